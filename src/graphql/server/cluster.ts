import cluster from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';

const METRICS_REQUEST = 'graft:cluster-metrics-request';
const METRICS_RESPONSE = 'graft:cluster-metrics-response';
const METRICS_TIMEOUT_MS = 5_000;
/** A worker that dies after serving at least this long is restarted; one dying sooner (or before listening) stops the cluster. */
const MIN_HEALTHY_MS = 10_000;
/** How long a worker has to drain and exit after SIGTERM before it is killed. */
const STOP_TIMEOUT_MS = 30_000;

interface MetricsMessage {
  type: string;
  id: number;
  text?: string;
}

/**
 * In a `graft serve --workers N` worker: makes this process's registry part of the cluster's
 * metrics and returns what `/metrics` should call (the primary aggregates every worker, so a
 * scrape that lands on any worker sees the whole server). null outside a cluster.
 */
export function clusterMetricsSource(registry: Registry): (() => Promise<string>) | null {
  if (!cluster.isWorker || !process.send) return null;
  new AggregatorRegistry(); // installs prom-client's worker-side listener that answers the primary
  AggregatorRegistry.setRegistries([registry]);
  let next = 0;
  const pending = new Map<number, (text: string) => void>();
  process.on('message', (message: MetricsMessage) => {
    if (message?.type !== METRICS_RESPONSE) return;
    pending.get(message.id)?.(message.text ?? '');
    pending.delete(message.id);
  });
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = next++;
      pending.set(id, resolve);
      process.send!({ type: METRICS_REQUEST, id } satisfies MetricsMessage);
      setTimeout(() => {
        if (pending.delete(id)) reject(new Error(`the cluster primary did not answer a metrics request within ${METRICS_TIMEOUT_MS} ms`));
      }, METRICS_TIMEOUT_MS).unref();
    });
}

/**
 * The primary of `graft serve --workers N`: forks N processes running the same command (they
 * share the listening port; Node hands connections out round-robin), answers their metrics
 * requests by aggregating every worker, restarts a worker that dies after serving a while,
 * and stops them all on SIGINT/SIGTERM. Rejects when a worker dies before it is up (a bad
 * configuration would otherwise restart forever); its own error is on stderr.
 */
export async function runClusterPrimary(workers: number, log: (message: string) => void): Promise<void> {
  const aggregator = new AggregatorRegistry();
  const startedAt = new Map<number, number>();
  let stopping = false;
  cluster.on('message', (worker, message: MetricsMessage) => {
    if (message?.type !== METRICS_REQUEST) return;
    aggregator.clusterMetrics().then(
      (text) => worker.send({ type: METRICS_RESPONSE, id: message.id, text } satisfies MetricsMessage),
      (error: Error) => worker.send({ type: METRICS_RESPONSE, id: message.id, text: `# aggregating the workers' metrics failed: ${error.message}\n` } satisfies MetricsMessage),
    );
  });
  const fork = () => {
    const worker = cluster.fork();
    worker.once('listening', () => startedAt.set(worker.id, Date.now()));
  };
  const failed = new Promise<never>((_, reject) => {
    cluster.on('exit', (worker, code, signal) => {
      if (stopping) return;
      const since = startedAt.get(worker.id);
      startedAt.delete(worker.id);
      const how = signal ?? `code ${code}`;
      if (since === undefined || Date.now() - since < MIN_HEALTHY_MS) {
        reject(new Error(`server worker ${worker.process.pid} exited (${how}) ${since === undefined ? 'before it was listening' : 'right after starting'}; its error is above`));
        return;
      }
      log(`server worker ${worker.process.pid} exited (${how}); starting another`);
      fork();
    });
  });
  for (let i = 0; i < workers; i++) fork();
  const signalled = new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  try {
    await Promise.race([signalled, failed]);
  } finally {
    stopping = true;
    log('stopping the server processes');
    const alive = Object.values(cluster.workers ?? {}).filter((w) => w !== undefined && !w.isDead());
    await Promise.all(
      alive.map(
        (w) =>
          new Promise<void>((resolve) => {
            // Draining takes at most Apollo's 10 s grace period; a worker stuck beyond that is killed.
            const kill = setTimeout(() => w!.process.kill('SIGKILL'), STOP_TIMEOUT_MS);
            w!.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            w!.process.kill('SIGTERM');
          }),
      ),
    );
  }
}
