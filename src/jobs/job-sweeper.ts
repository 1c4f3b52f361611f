import { sql } from 'kysely';
import type { GraftDatabase } from '../db/connect.js';
import { inTransaction } from '../db/transaction.js';
import type { JobDevice, JobStatus } from './job-record.js';
import { jobsEnqueued } from './job-repository.js';
import { addQueueEntries, ensureQueueSchema } from './queue-entry.js';

export interface RecoveredJob {
  id: string;
  /** QUEUED (retried), FAILED (no attempts left) or CANCELLED (a cancel was pending). */
  status: JobStatus;
  reason: string;
}

export interface SweepOptions {
  /** A RUNNING job whose heartbeat is older than this is presumed dead (default 30,000 ms). */
  staleAfterMs?: number;
  /** Only jobs whose worker id does not start with this (the in-process runner at start-up: every other process is gone). */
  exceptWorkerPrefix?: string;
}

/**
 * Recovers jobs whose worker died (kill -9, crash, lost machine): a RUNNING job whose
 * heartbeat lapsed goes back to QUEUED when it has attempts left (with a fresh
 * graphile-worker delivery on Postgres), else FAILED with the reason; a model row its
 * dead run left in TRAINING is marked FAILED, so nothing from that run is ever served.
 * One transaction; the status condition is re-checked under the row lock, so two
 * sweepers never recover the same job twice. Heartbeats use the database clock.
 */
export async function recoverStaleJobs(gdb: GraftDatabase, options: SweepOptions = {}): Promise<RecoveredJob[]> {
  const staleAfterSeconds = (options.staleAfterMs ?? 30_000) / 1000;
  if (gdb.kind === 'postgres') await ensureQueueSchema(gdb);
  const except = options.exceptWorkerPrefix ?? null;
  const recovered = await inTransaction(gdb.db, async (trx) => {
    const { rows } = await sql<{ id: string; status: JobStatus; device_requested: JobDevice; old_worker: string | null; last_heartbeat: Date | null; attempts: number; max_attempts: number }>`
      update jobs set
        status = case when stale.cancel_requested_at is not null then 'CANCELLED'
                      when jobs.attempts < jobs.max_attempts then 'QUEUED' else 'FAILED' end,
        worker_id = null,
        heartbeat_at = null,
        finished_at = case when stale.cancel_requested_at is null and jobs.attempts < jobs.max_attempts then null else now() end
      from (
        select id, worker_id, heartbeat_at, cancel_requested_at from jobs
        where status = 'RUNNING' and (heartbeat_at is null or heartbeat_at < now() - make_interval(secs => ${staleAfterSeconds}::float8))
          and (${except}::text is null or worker_id is null or left(worker_id, length(${except}::text)) <> ${except}::text)
        for update skip locked
      ) as stale
      where jobs.id = stale.id and jobs.status = 'RUNNING'
      returning jobs.id, jobs.status, jobs.device_requested, stale.worker_id as old_worker, stale.heartbeat_at as last_heartbeat, jobs.attempts, jobs.max_attempts`.execute(trx);
    if (rows.length === 0) return [];
    const out: RecoveredJob[] = rows.map((r) => {
      const lost = `worker ${r.old_worker ?? '(unknown)'} stopped sending heartbeats${r.last_heartbeat ? ` (last at ${new Date(r.last_heartbeat).toISOString()})` : ''}: it crashed, was killed, or lost the database`;
      const reason =
        r.status === 'QUEUED'
          ? `${lost}; retrying (attempt ${r.attempts + 1} of ${r.max_attempts})`
          : r.status === 'CANCELLED'
            ? `${lost}; a cancellation was pending, so the job ends CANCELLED`
            : `${lost}; gave up after ${r.attempts} attempt${r.attempts === 1 ? '' : 's'} (max ${r.max_attempts})`;
      return { id: r.id, status: r.status, reason };
    });
    const failed = out.filter((r) => r.status === 'FAILED');
    const payload = JSON.stringify(out);
    await sql`
      update jobs set error = r.reason
      from jsonb_to_recordset(${JSON.stringify(failed)}::jsonb) as r(id uuid, reason text)
      where jobs.id = r.id`.execute(trx);
    await sql`
      insert into job_events (job_id, kind, payload)
      select r.id, case r.status when 'QUEUED' then 'requeued' when 'FAILED' then 'failed' else 'cancelled' end, jsonb_build_object('reason', r.reason, 'recovered', true)
      from jsonb_to_recordset(${payload}::jsonb) as r(id uuid, status text, reason text)`.execute(trx);
    await sql`
      update models set status = 'FAILED', error = 'the job training it was interrupted (worker stopped sending heartbeats)'
      where status = 'TRAINING' and job_id in (select (r->>'id')::uuid from jsonb_array_elements(${payload}::jsonb) r)`.execute(trx);
    const retry = rows.filter((r) => r.status === 'QUEUED').map((r) => ({ id: r.id, device: r.device_requested }));
    if (gdb.kind === 'postgres') await addQueueEntries(trx, retry);
    return out;
  });
  if (recovered.some((r) => r.status === 'QUEUED')) jobsEnqueued.notify(gdb);
  return recovered;
}
