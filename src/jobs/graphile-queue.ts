import { run, type Task, type WorkerEvents } from 'graphile-worker';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { connect } from '../db/connect.js';
import { migrateToLatest, withSchemaLock } from '../db/migrate.js';
import { GraftError, isGraftError } from '../errors.js';
import type { BackendInfo } from '../model/backend.js';
import { runJob, type JobOutcome, type RunJobOptions } from './job-handler.js';
import type { JobDevice } from './job-record.js';
import { recoverStaleJobs } from './job-sweeper.js';
import { ensureQueueSchema, quietGraphileLogger, TASK_FOR_DEVICE } from './queue-entry.js';
import { TrainingProcess, type TrainingProcessOptions } from './training-process.js';
import { WarmChild } from './warm-child.js';

export type WorkerDevice = 'auto' | 'cpu' | 'gpu';

export interface WorkerOptions extends Pick<RunJobOptions, 'timing' | 'child' | 'log'> {
  /** postgres://... of the database holding the queue (graphile-worker needs a real Postgres). */
  databaseUrl: string;
  /** Jobs this worker runs side by side, each in its own child process (default 1). */
  concurrency?: number;
  /** cpu: takes AUTO and CPU jobs; gpu: also GPU jobs, and refuses to start without a usable GPU; auto (default): gpu when one is usable, else cpu. */
  device?: WorkerDevice;
  /** A RUNNING job whose heartbeat is older than this is recovered by the sweeper (default 30,000 ms). */
  staleAfterMs?: number;
  /** graphile-worker's fallback poll; new jobs arrive through LISTEN/NOTIFY at once (default 2,000 ms). */
  pollIntervalMs?: number;
  /** Keep one spare training process started while idle, so the next job skips the process start (default true; costs one idle process). */
  warmChild?: boolean;
  onJobDone?: (jobId: string, outcome: JobOutcome) => void;
}

export interface GraftWorker {
  workerId: string;
  /** Devices of the jobs this worker takes. */
  devices: JobDevice[];
  /** The backend a GPU probe found, when the worker takes GPU jobs. */
  gpu?: BackendInfo;
  /** Stops taking jobs; running jobs go back to the queue for other workers; resolves when everything is closed. */
  stop(): Promise<void>;
}

/**
 * A `graft worker`: takes jobs from the shared graphile-worker queue on Postgres and runs
 * each with `runJob` in its own child process. Any number of workers on any number of
 * machines can share one database. Every worker also sweeps for jobs whose worker died
 * (heartbeat older than `staleAfterMs`) and retries or fails them.
 *
 * @example
 * const worker = await runWorker({ databaseUrl: process.env.DATABASE_URL!, concurrency: 2, device: 'auto' });
 * process.on('SIGTERM', () => worker.stop());
 */
export async function runWorker(options: WorkerOptions): Promise<GraftWorker> {
  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
    throw new GraftError('BAD_INPUT', `concurrency ${concurrency} is not a whole number from 1 to 64; use e.g. 2`);
  }
  const log = options.log ?? (() => undefined);
  const { devices, gpu } = await workerDevices(options.device ?? 'auto', options.child, log);
  const gdb = await connect({ databaseUrl: options.databaseUrl, poolSize: concurrency + 2 });
  if (gdb.kind !== 'postgres') {
    await gdb.close();
    throw new GraftError('BAD_INPUT', 'graft worker needs DATABASE_URL=postgres://...: the shared queue lives in Postgres; on the embedded database the server runs jobs itself');
  }
  const workerId = `${hostname()}:${process.pid}`;
  const shutdown = new AbortController();
  const warm = options.warmChild === false ? undefined : new WarmChild(options.child);
  const staleAfterMs = options.staleAfterMs ?? 30_000;
  let runner: Awaited<ReturnType<typeof run>> | undefined;
  let sweeper: NodeJS.Timeout | undefined;
  try {
    await withSchemaLock(gdb, () => migrateToLatest(gdb.db));
    await ensureQueueSchema(gdb);
    const sweep = async () => {
      try {
        for (const r of await recoverStaleJobs(gdb, { staleAfterMs })) log(`job ${r.id}: ${r.status}: ${r.reason}`);
      } catch (error) {
        log(`stale-job sweep failed: ${(error as Error).message}`);
      }
    };
    await sweep();
    sweeper = setInterval(() => void sweep(), Math.max(500, Math.min(staleAfterMs / 3, 10_000)));
    const handler: Task = async (payload, helpers) => {
      const jobId = (payload as { jobId?: unknown } | null)?.jobId;
      if (typeof jobId !== 'string') return;
      const outcome = await runJob(gdb, jobId, {
        workerId,
        signal: AbortSignal.any([shutdown.signal, helpers.abortSignal]),
        timing: options.timing,
        child: options.child,
        warm,
        log,
      });
      options.onJobDone?.(jobId, outcome);
      if (!shutdown.signal.aborted) warm?.warm();
    };
    // "Ready" means listening: a job queued before LISTEN is in place would wait for the next poll.
    const events = new EventEmitter() as WorkerEvents;
    const listening = new Promise<void>((resolve) => {
      events.once('pool:listen:success', () => resolve());
      setTimeout(resolve, 10_000).unref();
    });
    runner = await run({
      events,
      connectionString: options.databaseUrl,
      maxPoolSize: Math.max(concurrency + 2, 4),
      concurrency,
      pollInterval: options.pollIntervalMs ?? 2000,
      noHandleSignals: true,
      logger: quietGraphileLogger,
      taskList: Object.fromEntries(devices.map((d) => [TASK_FOR_DEVICE[d], handler])),
    });
    await listening;
    warm?.warm();
  } catch (error) {
    clearInterval(sweeper);
    await warm?.close();
    await gdb.close();
    throw error;
  }
  const started = runner;
  let stopping: Promise<void> | undefined;
  return {
    workerId,
    devices,
    gpu,
    stop() {
      stopping ??= (async () => {
        clearInterval(sweeper);
        shutdown.abort();
        await started.stop().catch(() => undefined);
        await warm?.close();
        await gdb.close();
      })();
      return stopping;
    },
  };
}

/** Which job devices a worker takes; gpu and auto probe the GPU in a child process (the native backend never loads in the worker). */
export async function workerDevices(device: WorkerDevice, child: TrainingProcessOptions | undefined, log: (line: string) => void): Promise<{ devices: JobDevice[]; gpu?: BackendInfo }> {
  if (device !== 'cpu' && device !== 'gpu' && device !== 'auto') throw new GraftError('BAD_INPUT', `device "${String(device)}" is not one of auto, cpu, gpu`);
  if (device === 'cpu') return { devices: ['AUTO', 'CPU'] };
  try {
    const gpu = await probeDevice('GPU', child);
    return { devices: ['GPU', 'AUTO', 'CPU'], gpu };
  } catch (error) {
    if (device === 'gpu' || !isGraftError(error, 'UNAVAILABLE')) throw error;
    log(`no usable GPU (${error.message.split(';')[0]}); taking AUTO and CPU jobs`);
    return { devices: ['AUTO', 'CPU'] };
  }
}

/** Starts the backend for `device` in a throw-away child process: the same check a job's child makes. */
export async function probeDevice(device: JobDevice, child?: TrainingProcessOptions): Promise<BackendInfo> {
  const probe = new TrainingProcess(child);
  try {
    return await probe.init(device);
  } finally {
    probe.kill();
    await probe.exited;
  }
}
