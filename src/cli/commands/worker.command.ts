import type { Command } from 'commander';
import { GraftError } from '../../errors.js';
import { runWorker, type WorkerDevice } from '../../jobs/graphile-queue.js';
import { oneOf, positiveInt, positiveNumber } from '../options.js';
import { note } from '../with-database.js';

interface WorkerCliOptions {
  concurrency: number;
  device: WorkerDevice;
  staleAfter: number;
  heartbeat?: number;
  childMaxOldSpace?: number;
}

/** `graft worker`: runs training and transfer jobs from the shared Postgres queue until SIGINT / SIGTERM. */
export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('run training and transfer jobs from the shared queue (needs DATABASE_URL=postgres://...); start as many as you like, on any machines')
    .option('--concurrency <n>', 'jobs run side by side, each in its own child process', positiveInt('concurrency'), 1)
    .option('--device <device>', 'auto (GPU jobs too when a GPU is usable), cpu, or gpu (refuse to start without one)', oneOf('device', ['auto', 'cpu', 'gpu'] as const), 'auto')
    .option('--stale-after <seconds>', "recover a running job whose worker's heartbeat is older than this", positiveNumber('stale-after'), 30)
    .option('--heartbeat <seconds>', 'heartbeat of running jobs (default: stale-after / 6, at most 5)', positiveNumber('heartbeat'))
    .option('--child-max-old-space <mb>', 'heap limit of each training process in MB (default: Node\'s)', positiveInt('child-max-old-space'))
    .action(async (o: WorkerCliOptions) => {
      const databaseUrl = process.env.DATABASE_URL;
      if (!databaseUrl) {
        throw new GraftError('BAD_INPUT', 'graft worker needs DATABASE_URL=postgres://user@host:5432/db: the shared queue lives in Postgres; on the embedded database the server runs jobs itself');
      }
      const staleAfterMs = o.staleAfter * 1000;
      const heartbeatMs = o.heartbeat !== undefined ? o.heartbeat * 1000 : Math.min(5000, staleAfterMs / 6);
      if (heartbeatMs * 2 > staleAfterMs) {
        throw new GraftError('BAD_INPUT', `--heartbeat ${o.heartbeat} s is more than half of --stale-after ${o.staleAfter} s; live jobs would be taken for dead ones; use a heartbeat of at most ${o.staleAfter / 3} s`);
      }
      const log = (line: string) => note(`${new Date().toISOString()} ${line}`);
      const worker = await runWorker({
        databaseUrl,
        concurrency: o.concurrency,
        device: o.device,
        staleAfterMs,
        timing: { heartbeatMs },
        child: o.childMaxOldSpace ? { maxOldSpaceMb: o.childMaxOldSpace } : undefined,
        log,
      });
      const gpu = worker.gpu ? ` (GPU via ${worker.gpu.package})` : '';
      log(`worker ${worker.workerId} ready: takes ${worker.devices.join(', ')} jobs${gpu}, concurrency ${o.concurrency}`);
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          log(`${signal}: stopping; running jobs go back to the queue`);
          void worker.stop().then(resolve);
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      });
      log('worker stopped');
    });
}
