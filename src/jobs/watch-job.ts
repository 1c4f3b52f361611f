import type { Db } from '../db/database.js';
import { TERMINAL_JOB_STATUSES, type JobRecord } from './job-record.js';
import { getJob } from './job-repository.js';

export interface WatchJobOptions {
  /** How often the row is read (default 500 ms; progress is written at most 4 times a second anyway). */
  intervalMs?: number;
  /** Ends the iteration (e.g. the subscriber went away). */
  signal?: AbortSignal;
}

/**
 * The job now, then again every time it changes, until it reaches SUCCEEDED, FAILED or
 * CANCELLED (that record is the last one). Poll-based, so it works the same on PGlite and
 * Postgres and whichever process runs the job; one indexed read per interval. Breaking out
 * of the loop (or the signal) stops the polling.
 *
 * @example
 * for await (const job of watchJob(gdb.db, id)) console.log(job.status, job.progress?.etaSeconds);
 */
export async function* watchJob(db: Db, id: string, options: WatchJobOptions = {}): AsyncGenerator<JobRecord, void, undefined> {
  const intervalMs = options.intervalMs ?? 500;
  let last = '';
  while (!options.signal?.aborted) {
    const job = await getJob(db, id);
    const fingerprint = JSON.stringify([job.status, job.progress, job.device, job.backend, job.error, job.modelId, job.cancelRequestedAt, job.attempts]);
    if (fingerprint !== last) {
      last = fingerprint;
      yield job;
    }
    if (TERMINAL_JOB_STATUSES.includes(job.status)) return;
    await sleep(intervalMs, options.signal);
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
