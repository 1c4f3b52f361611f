import { Logger, runMigrations } from 'graphile-worker';
import { withSchemaLock } from '../db/migrate.js';
import { sql } from 'kysely';
import type pg from 'pg';
import type { GraftDatabase } from '../db/connect.js';
import type { Db } from '../db/database.js';
import type { JobDevice } from './job-record.js';

/**
 * graphile-worker task identifiers, one per requested device. A worker registers only the
 * tasks its device can honour (graphile-worker never hands a worker a task it does not
 * know), so a CPU-only worker never takes a GPU job. Queue names are not used: jobs in one
 * graphile-worker queue run one after another, and training jobs should run side by side.
 */
export const TASK_FOR_DEVICE: Readonly<Record<JobDevice, string>> = {
  AUTO: 'graft_train',
  CPU: 'graft_train_cpu',
  GPU: 'graft_train_gpu',
};

/** graphile-worker retries a delivery that threw (e.g. the database was briefly away before the claim); Graft's own attempts count runs. */
const DELIVERY_ATTEMPTS = 5;

/** graphile-worker's own schema lives next to Graft's tables; warnings and errors only. */
export const quietGraphileLogger = new Logger(() => (level, message) => {
  if (level === 'error' || level === 'warning') process.stderr.write(`graphile-worker ${level}: ${message}\n`);
});

const migrated = new WeakMap<pg.Pool, Promise<void>>();

/**
 * Installs or upgrades graphile-worker's schema once per pool (its own migrations, safe to
 * run from several processes at once). Needed before the first enqueue on Postgres.
 */
export function ensureQueueSchema(gdb: GraftDatabase): Promise<void> {
  const pool = gdb.pool;
  if (!pool) return Promise.resolve();
  let done = migrated.get(pool);
  if (!done) {
    // graphile-worker insists on it, rightly: an idle client's error without a listener would end the process.
    const report = (error: Error) => process.stderr.write(`postgres connection: ${error.message}\n`);
    if (pool.listenerCount('error') === 0) pool.on('error', report);
    if (pool.listenerCount('connect') === 0) pool.on('connect', (client) => client.on('error', report));
    done = withSchemaLock(gdb, () => runMigrations({ pgPool: pool, logger: quietGraphileLogger }));
    migrated.set(pool, done);
    done.catch(() => migrated.delete(pool));
  }
  return done;
}

/**
 * Adds a graphile-worker delivery for each job, inside the caller's transaction (so a job
 * row never exists without its delivery, nor the other way round). The job key is the
 * Graft job id: adding it again while a dead worker still holds the old delivery locked
 * gives a fresh delivery and stops the old one from ever running again.
 */
export async function addQueueEntries(db: Db, jobs: ReadonlyArray<{ id: string; device: JobDevice }>): Promise<void> {
  if (jobs.length === 0) return;
  const specs = JSON.stringify(jobs.map((j) => ({ id: j.id, task: TASK_FOR_DEVICE[j.device] })));
  await sql`
    select graphile_worker.add_job(s.task, json_build_object('jobId', s.id), max_attempts => ${DELIVERY_ATTEMPTS}::int, job_key => s.id)
    from jsonb_to_recordset(${specs}::jsonb) as s(id text, task text)`.execute(db);
}

/** Removes a job's pending delivery (a cancelled queued job); a locked one is told never to run again. */
export async function removeQueueEntry(db: Db, jobId: string): Promise<void> {
  await sql`select graphile_worker.remove_job(${jobId}::text)`.execute(db);
}
