import { hostname } from 'node:os';
import type { GraftDatabase } from '../db/connect.js';
import { runJob, type JobOutcome, type RunJobOptions } from './job-handler.js';
import { jobsEnqueued, nextQueuedJobId } from './job-repository.js';
import { recoverStaleJobs } from './job-sweeper.js';
import { WarmChild } from './warm-child.js';

export interface InProcessRunnerOptions extends Pick<RunJobOptions, 'timing' | 'child' | 'log'> {
  /** Fallback poll for queued jobs (default 1,000 ms); a job queued in this process wakes the runner at once. */
  pollIntervalMs?: number;
  /** Passed to the stale-job sweep that runs every few polls (default 30,000 ms). */
  staleAfterMs?: number;
  /** Keep one spare training process started while idle, so the next job skips the process start (default true; costs one idle process). */
  warmChild?: boolean;
  /** Called after each job the runner ran. */
  onJobDone?: (jobId: string, outcome: JobOutcome) => void;
}

export interface InProcessRunner {
  readonly workerId: string;
  /** Stops taking jobs; a running job goes back to the queue; resolves when the runner is idle. */
  stop(): Promise<void>;
}

/**
 * Runs queued jobs inside this process, one at a time, with the same handler and the same
 * child process per run as `graft worker`: the embedded PGlite default (one process owns
 * the data folder) has no graphile-worker. It also works on Postgres (it claims rows like
 * any worker), but there `graft worker` processes are the way to scale.
 *
 * @example
 * const runner = startInProcessRunner(gdb);   // in the server, next to the GraphQL API
 * await runner.stop();                        // on shutdown
 */
export function startInProcessRunner(gdb: GraftDatabase, options: InProcessRunnerOptions = {}): InProcessRunner {
  const prefix = `${hostname()}:${process.pid}:`;
  const workerId = `${prefix}in-process:${Math.random().toString(36).slice(2, 8)}`;
  const log = options.log ?? (() => undefined);
  const shutdown = new AbortController();
  const warm = options.warmChild === false ? undefined : new WarmChild(options.child);
  let wake: (() => void) | undefined;
  const unsubscribe = jobsEnqueued.subscribe((location) => {
    if (location === gdb.location) wake?.();
  });

  const loop = async () => {
    // PGlite: this process owns the data folder, so a RUNNING job of any other process died with it.
    if (gdb.kind === 'pglite') await recoverStaleJobs(gdb, { staleAfterMs: 0, exceptWorkerPrefix: prefix }).catch((e: Error) => log(`sweep failed: ${e.message}`));
    let polls = 0;
    while (!shutdown.signal.aborted) {
      try {
        if (polls++ % 10 === 0) await recoverStaleJobs(gdb, { staleAfterMs: options.staleAfterMs });
        const id = await nextQueuedJobId(gdb.db);
        if (id) {
          const outcome = await runJob(gdb, id, { workerId, signal: shutdown.signal, timing: options.timing, child: options.child, warm, log });
          options.onJobDone?.(id, outcome);
          continue;
        }
      } catch (error) {
        log(`in-process runner: ${(error as Error).message}`);
      }
      // Idle: the spare warms up now rather than while the next job starts.
      if (!shutdown.signal.aborted) warm?.warm();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, options.pollIntervalMs ?? 1000);
        function done() {
          clearTimeout(timer);
          wake = undefined;
          shutdown.signal.removeEventListener('abort', done);
          resolve();
        }
        wake = done;
        shutdown.signal.addEventListener('abort', done);
      });
    }
  };
  const finished = loop();
  return {
    workerId,
    async stop() {
      shutdown.abort();
      unsubscribe();
      await finished;
      await warm?.close();
    },
  };
}
