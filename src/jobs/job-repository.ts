import { sql, type Selectable } from 'kysely';
import type { GraftDatabase } from '../db/connect.js';
import type { Db } from '../db/database.js';
import { JOB_STATUSES, type JobEventTable, type JobTable } from '../db/tables/job.table.js';
import { inTransaction } from '../db/transaction.js';
import { GraftError } from '../errors.js';
import { getModel, requireDomainId } from '../registry/model-repository.js';
import { parseJobDevice, resolvePretrainInput, resolveTransferInput } from './job-input.js';
import type { JobDevice, JobEventRecord, JobKind, JobPage, JobProgress, JobRecord, JobSpec, JobStatus } from './job-record.js';
import { addQueueEntries, ensureQueueSchema, removeQueueEntry } from './queue-entry.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A new event for `job_events`. */
export interface NewJobEvent {
  kind: string;
  payload?: Record<string, unknown>;
}

/**
 * Queues a training or transfer job and returns it at once (status QUEUED). The input is
 * checked and completed with defaults first (BAD_INPUT / NOT_FOUND before anything is
 * written). On Postgres the graphile-worker delivery is added in the same transaction; on
 * PGlite the in-process runner picks the row up. The same `idempotencyKey` returns the
 * same job; reusing it for a different input is a CONFLICT.
 *
 * @example
 * const job = await enqueueJob(gdb, { kind: 'TRANSFER', input: { sourceModelId, targetDomain: 'cloth', strategy: 'PARTIAL' }, idempotencyKey: 'req-42' });
 */
export async function enqueueJob(gdb: GraftDatabase, spec: JobSpec): Promise<JobRecord> {
  const device = parseJobDevice(spec.device);
  const input = spec.kind === 'PRETRAIN' ? resolvePretrainInput(spec.input) : spec.kind === 'TRANSFER' ? resolveTransferInput(spec.input) : undefined;
  if (!input) throw new GraftError('BAD_INPUT', `job kind "${String((spec as { kind: unknown }).kind)}" is unknown; use PRETRAIN or TRANSFER`);
  const maxAttempts = spec.maxAttempts ?? 2;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 20) {
    throw new GraftError('BAD_INPUT', `maxAttempts = ${maxAttempts} is not a whole number from 1 to 20; use e.g. 2`);
  }
  const key = spec.idempotencyKey?.trim() || null;
  if (key !== null && key.length > 200) throw new GraftError('BAD_INPUT', `idempotency key of ${key.length} characters is too long; use at most 200 (e.g. a UUID)`);
  const fingerprint = stableJson({ kind: spec.kind, device, input });

  if (key !== null) {
    const existing = await findByKey(gdb.db, key);
    if (existing) return sameOrConflict(existing, key, fingerprint);
  }
  await checkReferences(gdb.db, spec.kind, input as unknown as Record<string, string>);
  if (gdb.kind === 'postgres') await ensureQueueSchema(gdb);

  const inserted = await inTransaction(gdb.db, async (trx) => {
    const row = await trx
      .insertInto('jobs')
      .values({
        kind: spec.kind,
        status: 'QUEUED',
        input: JSON.stringify(input),
        idempotency_key: key,
        device_requested: device,
        device: null,
        backend: null,
        progress: null,
        metrics: null,
        transfer_report: null,
        error: null,
        model_id: null,
        max_attempts: maxAttempts,
        worker_id: null,
        heartbeat_at: null,
        cancel_requested_at: null,
        started_at: null,
        finished_at: null,
      })
      .onConflict((oc) => oc.column('idempotency_key').doNothing())
      .returningAll()
      .executeTakeFirst();
    if (!row) return undefined;
    await appendJobEvents(trx, row.id, [{ kind: 'queued', payload: { device } }]);
    if (gdb.kind === 'postgres') await addQueueEntries(trx, [{ id: row.id, device }]);
    return toJobRecord(row);
  });
  if (inserted) {
    jobsEnqueued.notify(gdb);
    return inserted;
  }
  // Another request with the same key committed between our look-up and our insert.
  const winner = await findByKey(gdb.db, key!);
  if (!winner) throw new GraftError('INTERNAL', `job with idempotency key "${key}" vanished while being created; retry the request`);
  return sameOrConflict(winner, key!, fingerprint);
}

/** One job by id; NOT_FOUND names the id. */
export async function getJob(db: Db, id: string): Promise<JobRecord> {
  if (!UUID.test(id)) throw new GraftError('BAD_INPUT', `job id "${id}" is not a job id (a UUID); list jobs to find it`);
  const row = await db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw new GraftError('NOT_FOUND', `job "${id}" does not exist; list jobs to find it`);
  return toJobRecord(row);
}

/** Several jobs by id in one query (for DataLoaders); unknown ids are simply absent. */
export async function getJobs(db: Db, ids: readonly string[]): Promise<JobRecord[]> {
  const valid = ids.filter((id) => UUID.test(id));
  if (valid.length === 0) return [];
  return (await db.selectFrom('jobs').selectAll().where('id', 'in', valid).execute()).map(toJobRecord);
}

export interface ListJobsOptions {
  status?: JobStatus | readonly JobStatus[];
  kind?: JobKind;
  /** Page size, 1..100 (default 20). */
  first?: number;
  /** `endCursor` of the previous page. */
  after?: string | null;
}

/** Jobs, newest first, one page at a time (keyset pagination on created_at, id). */
export async function listJobs(db: Db, options: ListJobsOptions = {}): Promise<JobPage> {
  const first = options.first ?? 20;
  if (!Number.isInteger(first) || first < 1 || first > 100) throw new GraftError('BAD_INPUT', `first = ${first} is not a page size from 1 to 100; use e.g. 20`);
  const statuses = options.status === undefined ? [] : Array.isArray(options.status) ? options.status : [options.status as JobStatus];
  for (const s of statuses) {
    if (!JOB_STATUSES.includes(s)) throw new GraftError('BAD_INPUT', `job status "${s}" is unknown; use one of ${JOB_STATUSES.join(', ')}`);
  }
  let query = db.selectFrom('jobs').selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').limit(first + 1);
  if (statuses.length > 0) query = query.where('status', 'in', statuses);
  if (options.kind) query = query.where('kind', '=', options.kind);
  if (options.after) {
    const afterId = decodeCursor(options.after);
    query = query.where(sql<boolean>`(created_at, id) < (select j.created_at, j.id from jobs j where j.id = ${afterId}::uuid)`);
  }
  const rows = await query.execute();
  const page = rows.slice(0, first).map(toJobRecord);
  return { jobs: page, endCursor: page.length > 0 ? encodeCursor(page[page.length - 1]!.id) : null, hasNextPage: rows.length > first };
}

/** A job's events, oldest first; `after` (an event id) continues where the last call stopped. */
export async function listJobEvents(db: Db, jobId: string, options: { after?: number; limit?: number; kinds?: readonly string[] } = {}): Promise<JobEventRecord[]> {
  const limit = options.limit ?? 200;
  if (!Number.isInteger(limit) || limit < 1 || limit > 5000) throw new GraftError('BAD_INPUT', `limit = ${limit} is not from 1 to 5000; use e.g. 200`);
  if (!UUID.test(jobId)) throw new GraftError('BAD_INPUT', `job id "${jobId}" is not a job id (a UUID); list jobs to find it`);
  let query = db.selectFrom('job_events').selectAll().where('job_id', '=', jobId).orderBy('id', 'asc').limit(limit);
  if (options.after !== undefined) query = query.where('id', '>', String(options.after) as never);
  if (options.kinds && options.kinds.length > 0) query = query.where('kind', 'in', [...options.kinds]);
  return (await query.execute()).map(toEventRecord);
}

/**
 * Cancels a job. QUEUED: CANCELLED at once, it never starts. RUNNING: records the request;
 * the process running it sees it within about half a second, stops the training loop, and
 * ends the job CANCELLED (no model is left READY). CANCELLED again: returned unchanged.
 * SUCCEEDED / FAILED: a CONFLICT.
 */
export async function requestCancel(gdb: GraftDatabase, id: string): Promise<JobRecord> {
  const job = await getJob(gdb.db, id);
  if (job.status === 'CANCELLED') return job;
  if (job.status === 'SUCCEEDED' || job.status === 'FAILED') {
    throw new GraftError('CONFLICT', `job "${id}" already ${job.status}; there is nothing to cancel`);
  }
  if (gdb.kind === 'postgres') await ensureQueueSchema(gdb);
  await inTransaction(gdb.db, async (trx) => {
    const queued = await trx
      .updateTable('jobs')
      .set({ status: 'CANCELLED', cancel_requested_at: sql<Date>`now()`, finished_at: sql<Date>`now()` })
      .where('id', '=', id)
      .where('status', '=', 'QUEUED')
      .executeTakeFirst();
    if (Number(queued.numUpdatedRows) === 1) {
      await appendJobEvents(trx, id, [{ kind: 'cancelled', payload: { while: 'QUEUED' } }]);
      if (gdb.kind === 'postgres') await removeQueueEntry(trx, id);
      return;
    }
    const running = await trx
      .updateTable('jobs')
      .set({ cancel_requested_at: sql<Date>`now()` })
      .where('id', '=', id)
      .where('status', '=', 'RUNNING')
      .where('cancel_requested_at', 'is', null)
      .executeTakeFirst();
    if (Number(running.numUpdatedRows) === 1) await appendJobEvents(trx, id, [{ kind: 'cancel_requested', payload: {} }]);
  });
  return getJob(gdb.db, id);
}

/** Appends events in one statement. */
export async function appendJobEvents(db: Db, jobId: string, events: readonly NewJobEvent[]): Promise<void> {
  if (events.length === 0) return;
  const rows = JSON.stringify(events.map((e) => ({ kind: e.kind, payload: e.payload ?? {} })));
  await sql`
    insert into job_events (job_id, kind, payload)
    select ${jobId}::uuid, e->>'kind', e->'payload' from jsonb_array_elements(${rows}::jsonb) with ordinality as x(e, n) order by n`.execute(db);
}

// ---- The running side: claim, lease, finish ------------------------------------------------

/** The right to run one attempt of a job: valid while the row is RUNNING with this worker and attempt. */
export interface JobLease {
  jobId: string;
  workerId: string;
  attempt: number;
}

/** What the process running a job re-reads a few times a second. */
export interface JobControl {
  /** The lease no longer holds (the job was recovered as stale, or finished elsewhere): stop without writing. */
  lost: boolean;
  cancelRequested: boolean;
}

/**
 * Takes a QUEUED job for `workerId` (RUNNING, attempts + 1, heartbeat now). Returns null
 * when the job is not QUEUED (already taken, cancelled, finished): a conditional update,
 * so two workers handed the same job never both run it.
 */
export async function claimJob(db: Db, jobId: string, workerId: string): Promise<{ lease: JobLease; job: JobRecord } | null> {
  if (!UUID.test(jobId)) return null;
  const row = await db
    .updateTable('jobs')
    .set({
      status: 'RUNNING',
      worker_id: workerId,
      heartbeat_at: sql<Date>`now()`,
      started_at: sql<Date>`coalesce(started_at, now())`,
      attempts: sql<number>`attempts + 1`,
      error: null,
      progress: null,
    })
    .where('id', '=', jobId)
    .where('status', '=', 'QUEUED')
    .where('cancel_requested_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
  if (!row) return null;
  const lease = { jobId, workerId, attempt: row.attempts };
  await appendJobEvents(db, jobId, [{ kind: 'started', payload: { workerId, attempt: row.attempts } }]);
  return { lease, job: toJobRecord(row) };
}

/** The oldest QUEUED job (any device), for the in-process runner. */
export async function nextQueuedJobId(db: Db): Promise<string | undefined> {
  const row = await db.selectFrom('jobs').select('id').where('status', '=', 'QUEUED').orderBy('created_at').orderBy('id').limit(1).executeTakeFirst();
  return row?.id;
}

/**
 * One round trip for the running side: optionally writes progress (and events), refreshes
 * the heartbeat when writing, and reads back whether the lease still holds and whether a
 * cancellation was asked for.
 */
export async function touchJob(
  db: Db,
  lease: JobLease,
  update: { progress?: JobProgress; events?: readonly NewJobEvent[]; backend?: { backend: string; device: string }; heartbeat?: boolean } = {},
): Promise<JobControl> {
  const write = update.progress !== undefined || (update.events?.length ?? 0) > 0 || update.backend !== undefined || update.heartbeat === true;
  let row: { status: string; worker_id: string | null; attempts: number; cancel_requested_at: Date | null } | undefined;
  if (!write) {
    row = await db.selectFrom('jobs').select(['status', 'worker_id', 'attempts', 'cancel_requested_at']).where('id', '=', lease.jobId).executeTakeFirst();
  } else {
    const events = JSON.stringify((update.events ?? []).map((e) => ({ kind: e.kind, payload: e.payload ?? {} })));
    const progress = update.progress === undefined ? null : JSON.stringify(update.progress);
    const result = await sql<{ status: string; worker_id: string | null; attempts: number; cancel_requested_at: Date | null }>`
      with owned as (
        select id from jobs where id = ${lease.jobId}::uuid and status = 'RUNNING' and worker_id = ${lease.workerId} and attempts = ${lease.attempt}::int
      ), events as (
        insert into job_events (job_id, kind, payload)
        select owned.id, e->>'kind', e->'payload'
        from owned, jsonb_array_elements(${events}::jsonb) with ordinality as x(e, n) order by n
      ), touched as (
        update jobs set heartbeat_at = now(),
          progress = coalesce(${progress}::jsonb, jobs.progress),
          backend = coalesce(${update.backend?.backend ?? null}::text, jobs.backend),
          device = coalesce(${update.backend?.device ?? null}::text, jobs.device)
        from owned where jobs.id = owned.id
        returning jobs.id
      )
      select status, worker_id, attempts, cancel_requested_at from jobs where id = ${lease.jobId}::uuid`.execute(db);
    row = result.rows[0];
  }
  const lost = !row || row.status !== 'RUNNING' || row.worker_id !== lease.workerId || row.attempts !== lease.attempt;
  return { lost, cancelRequested: row?.cancel_requested_at != null };
}

/**
 * Ends an attempt as FAILED or CANCELLED (SUCCEEDED is written inside the registration
 * transaction, see the job handler). Returns false when the lease no longer held.
 */
export async function finishJob(db: Db, lease: JobLease, outcome: { status: 'FAILED' | 'CANCELLED'; error?: string; progress?: JobProgress }): Promise<boolean> {
  return inTransaction(db, async (trx) => {
    const updated = await trx
      .updateTable('jobs')
      .set({
        status: outcome.status,
        error: outcome.error ?? null,
        finished_at: sql<Date>`now()`,
        heartbeat_at: sql<Date>`now()`,
        ...(outcome.progress ? { progress: JSON.stringify(outcome.progress) } : {}),
      })
      .where('id', '=', lease.jobId)
      .where('status', '=', 'RUNNING')
      .where('worker_id', '=', lease.workerId)
      .where('attempts', '=', lease.attempt)
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) !== 1) return false;
    await appendJobEvents(trx, lease.jobId, [{ kind: outcome.status === 'FAILED' ? 'failed' : 'cancelled', payload: outcome.error ? { error: outcome.error } : {} }]);
    // A model row a failed registration left behind (status TRAINING) must never be served.
    await trx
      .updateTable('models')
      .set({ status: 'FAILED', error: outcome.error ?? `job ${outcome.status.toLowerCase()}` })
      .where('job_id', '=', lease.jobId)
      .where('status', '=', 'TRAINING')
      .execute();
    return true;
  });
}

/**
 * Puts a running job back in the queue (its worker is shutting down): QUEUED again, the
 * attempt not counted, and on Postgres a fresh graphile-worker delivery.
 */
export async function requeueJob(gdb: GraftDatabase, lease: JobLease, reason: string): Promise<boolean> {
  const requeued = await inTransaction(gdb.db, async (trx) => {
    const row = await trx
      .updateTable('jobs')
      .set({ status: 'QUEUED', worker_id: null, heartbeat_at: null, progress: null, attempts: sql<number>`greatest(attempts - 1, 0)` })
      .where('id', '=', lease.jobId)
      .where('status', '=', 'RUNNING')
      .where('worker_id', '=', lease.workerId)
      .where('attempts', '=', lease.attempt)
      .returning(['id', 'device_requested'])
      .executeTakeFirst();
    if (!row) return false;
    await appendJobEvents(trx, lease.jobId, [{ kind: 'requeued', payload: { reason } }]);
    if (gdb.kind === 'postgres') await addQueueEntries(trx, [{ id: row.id, device: row.device_requested }]);
    return true;
  });
  if (requeued) jobsEnqueued.notify(gdb);
  return requeued;
}

// ---- Mapping --------------------------------------------------------------------------------

export function toJobRecord(row: Selectable<JobTable>): JobRecord {
  return {
    id: row.id,
    kind: row.kind,
    status: row.status,
    input: row.input,
    idempotencyKey: row.idempotency_key,
    deviceRequested: row.device_requested,
    device: row.device,
    backend: row.backend,
    progress: row.progress as unknown as JobProgress | null,
    metrics: row.metrics,
    transferReport: row.transfer_report,
    error: row.error,
    modelId: row.model_id,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    workerId: row.worker_id,
    heartbeatAt: row.heartbeat_at,
    cancelRequestedAt: row.cancel_requested_at,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

function toEventRecord(row: Selectable<JobEventTable>): JobEventRecord {
  return { id: Number(row.id), jobId: row.job_id, kind: row.kind, payload: row.payload, createdAt: row.created_at };
}

async function findByKey(db: Db, key: string): Promise<JobRecord | undefined> {
  const row = await db.selectFrom('jobs').selectAll().where('idempotency_key', '=', key).executeTakeFirst();
  return row && toJobRecord(row);
}

function sameOrConflict(job: JobRecord, key: string, fingerprint: string): JobRecord {
  if (stableJson({ kind: job.kind, device: job.deviceRequested, input: job.input }) !== fingerprint) {
    throw new GraftError('CONFLICT', `idempotency key "${key}" was already used for job ${job.id} with a different input; use a new key for a new job`);
  }
  return job;
}

async function checkReferences(db: Db, kind: JobKind, input: Record<string, string>): Promise<void> {
  if (kind === 'PRETRAIN') {
    await requireDomainId(db, input.domain!);
    return;
  }
  const source = await getModel(db, input.sourceModelId!);
  if (source.status === 'TRAINING' || source.status === 'FAILED') {
    throw new GraftError('CONFLICT', `source model "${source.id}" is ${source.status}; transfer from a READY or ACTIVE model`);
  }
  await requireDomainId(db, input.targetDomain!);
  if (source.domain === input.targetDomain) {
    throw new GraftError('BAD_INPUT', `model "${source.id}" was trained on "${source.domain}" itself; transfer goes to another domain (to retrain, start a pretraining job)`);
  }
}

/** JSON with sorted keys: two inputs are the same job exactly when these strings are equal. */
function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

function encodeCursor(id: string): string {
  return Buffer.from(`job:${id}`).toString('base64url');
}

function decodeCursor(cursor: string): string {
  const text = Buffer.from(cursor, 'base64url').toString();
  const id = text.startsWith('job:') ? text.slice(4) : '';
  if (!UUID.test(id)) throw new GraftError('BAD_INPUT', `cursor "${cursor}" is not a jobs cursor; pass the endCursor of the previous page`);
  return id;
}

/**
 * Wakes runners in this process when a job is queued (the in-process runner on PGlite
 * would otherwise wait for its next poll). Keyed by database location.
 */
export const jobsEnqueued = {
  listeners: new Set<(location: string) => void>(),
  notify(gdb: GraftDatabase): void {
    for (const listener of this.listeners) listener(gdb.location);
  },
  subscribe(listener: (location: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  },
};

export type { JobDevice };
