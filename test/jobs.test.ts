import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedSynthetic } from '../seeds/seed-database.js';
import { isGraftError } from '../src/errors.js';
import { startInProcessRunner, type InProcessRunner } from '../src/jobs/in-process-runner.js';
import { runJob } from '../src/jobs/job-handler.js';
import type { JobRecord } from '../src/jobs/job-record.js';
import { claimJob, enqueueJob, getJob, listJobEvents, listJobs, requestCancel, touchJob } from '../src/jobs/job-repository.js';
import { recoverStaleJobs } from '../src/jobs/job-sweeper.js';
import { watchJob } from '../src/jobs/watch-job.js';
import { createModel, getModel } from '../src/registry/model-repository.js';
import { describeEachStorage, freshDatabase, type TestDatabase } from './support/databases.js';
import { ENDLESS_JOB, SMALL_JOB, eventKinds, requireBuild, waitFor } from './support/job-helpers.js';

const SEED = { users: 200, seed: 3, sourceItems: 120, targetItems: 60 };

/** graphile-worker deliveries of a Graft job (Postgres only). */
async function deliveries(db: TestDatabase, jobId: string): Promise<number> {
  const { rows } = await sql<{ n: number }>`select count(*)::int as n from graphile_worker.jobs where key = ${jobId}`.execute(db.db);
  return rows[0]!.n;
}

describeEachStorage('jobs: queue, idempotency, cancellation and recovery (no runner)', (ctx) => {
  beforeAll(async () => {
    await seedSynthetic(ctx.db, SEED);
  });

  it('checks the input and what it names before writing anything', async () => {
    await expect(enqueueJob(ctx.db, { kind: 'PRETRAIN', input: { ...SMALL_JOB, domain: 'nowhere' } })).rejects.toThrow(/domain "nowhere" does not exist/);
    await expect(enqueueJob(ctx.db, { kind: 'PRETRAIN', input: { ...SMALL_JOB, epochs: -1 } })).rejects.toThrow(/epochs = -1/);
    await expect(enqueueJob(ctx.db, { kind: 'TRANSFER', input: { sourceModelId: '00000000-0000-0000-0000-000000000000', targetDomain: 'target', strategy: 'FULL' } })).rejects.toThrow(
      /model "00000000-0000-0000-0000-000000000000" does not exist/,
    );
    const { jobs } = await listJobs(ctx.db.db);
    expect(jobs).toEqual([]);
  });

  it('returns the same job for the same idempotency key, also under concurrent requests, and refuses the key for another input', async () => {
    const spec = { kind: 'PRETRAIN' as const, input: SMALL_JOB, idempotencyKey: 'request-1' };
    const results = await Promise.all([1, 2, 3, 4].map(() => enqueueJob(ctx.db, spec)));
    expect(new Set(results.map((j) => j.id)).size).toBe(1);
    expect(results[0]!).toMatchObject({ status: 'QUEUED', kind: 'PRETRAIN', idempotencyKey: 'request-1', deviceRequested: 'AUTO', attempts: 0 });
    expect((await enqueueJob(ctx.db, spec)).id).toBe(results[0]!.id);
    const error = await enqueueJob(ctx.db, { ...spec, input: { ...SMALL_JOB, epochs: 2 } }).catch((e: unknown) => e);
    expect(isGraftError(error, 'CONFLICT')).toBe(true);
    expect((error as Error).message).toMatch(/idempotency key "request-1" was already used for job .* with a different input/);
    const { jobs } = await listJobs(ctx.db.db);
    expect(jobs.filter((j) => j.idempotencyKey === 'request-1')).toHaveLength(1);
    if (ctx.kind === 'postgres') expect(await deliveries(ctx.db, results[0]!.id)).toBe(1);
  });

  it('cancels a queued job at once; it never starts', async () => {
    const job = await enqueueJob(ctx.db, { kind: 'PRETRAIN', input: SMALL_JOB });
    const cancelled = await requestCancel(ctx.db, job.id);
    expect(cancelled.status).toBe('CANCELLED');
    expect(cancelled.finishedAt).not.toBeNull();
    expect(await runJob(ctx.db, job.id, { workerId: 'test:1' })).toBe('SKIPPED');
    expect((await getJob(ctx.db.db, job.id)).attempts).toBe(0);
    expect(await eventKinds(ctx.db, job.id)).toEqual(['queued', 'cancelled']);
    expect((await requestCancel(ctx.db, job.id)).status).toBe('CANCELLED');
    if (ctx.kind === 'postgres') expect(await deliveries(ctx.db, job.id)).toBe(0);
    // watchJob yields the final state once and ends.
    const seen: JobRecord[] = [];
    for await (const j of watchJob(ctx.db.db, job.id, { intervalMs: 20 })) seen.push(j);
    expect(seen.map((j) => j.status)).toEqual(['CANCELLED']);
  });

  it('lets exactly one of two workers claim the same job, then recovers it when that worker stops heartbeating: retried, then FAILED with the reason', async () => {
    const job = await enqueueJob(ctx.db, { kind: 'PRETRAIN', input: SMALL_JOB, maxAttempts: 2 });
    const claims = await Promise.all([claimJob(ctx.db.db, job.id, 'host-a:1'), claimJob(ctx.db.db, job.id, 'host-b:2')]);
    expect(claims.filter((c) => c !== null)).toHaveLength(1);
    const winner = claims.find((c) => c !== null)!;
    expect(winner.job).toMatchObject({ status: 'RUNNING', attempts: 1 });

    // The dead run got as far as creating its model row (status TRAINING).
    const orphan = await createModel(ctx.db.db, { domain: 'source', kind: 'PRETRAIN', config: {}, jobId: job.id });
    // A heartbeat is fresh: nothing to recover.
    expect(await recoverStaleJobs(ctx.db, { staleAfterMs: 60_000 })).toEqual([]);
    const backdate = () => ctx.db.db.updateTable('jobs').set({ heartbeat_at: sql<Date>`now() - interval '1 hour'` }).where('id', '=', job.id).execute();
    expect(await touchJob(ctx.db.db, winner.lease, { heartbeat: true })).toEqual({ lost: false, cancelRequested: false });
    await backdate();
    const first = await recoverStaleJobs(ctx.db, { staleAfterMs: 60_000 });
    // The stalled worker learns on its next write that the job is no longer its own.
    expect(await touchJob(ctx.db.db, winner.lease, { heartbeat: true })).toEqual({ lost: true, cancelRequested: false });
    expect(first).toEqual([{ id: job.id, status: 'QUEUED', reason: expect.stringMatching(/worker host-.:\d stopped sending heartbeats .*retrying \(attempt 2 of 2\)/) }]);
    expect((await getModel(ctx.db.db, orphan.id)).status).toBe('FAILED');
    if (ctx.kind === 'postgres') expect(await deliveries(ctx.db, job.id)).toBe(1);

    const second = await claimJob(ctx.db.db, job.id, 'host-c:3');
    expect(second?.lease.attempt).toBe(2);
    expect((await requestCancel(ctx.db, job.id)).status).toBe('RUNNING');
    expect(await touchJob(ctx.db.db, second!.lease)).toEqual({ lost: false, cancelRequested: true });
    await ctx.db.db.updateTable('jobs').set({ cancel_requested_at: null }).where('id', '=', job.id).execute();
    await backdate();
    const [last] = await recoverStaleJobs(ctx.db, { staleAfterMs: 60_000 });
    expect(last).toMatchObject({ id: job.id, status: 'FAILED' });
    const failed = await getJob(ctx.db.db, job.id);
    expect(failed.status).toBe('FAILED');
    expect(failed.error).toMatch(/worker host-c:3 stopped sending heartbeats .*gave up after 2 attempts/);
    expect(await eventKinds(ctx.db, job.id)).toEqual(['queued', 'started', 'requeued', 'started', 'cancel_requested', 'failed']);
  });

  it('pages through jobs newest first and filters by status', async () => {
    const own = [];
    for (let i = 0; i < 3; i++) own.push(await enqueueJob(ctx.db, { kind: 'PRETRAIN', input: SMALL_JOB }));
    await requestCancel(ctx.db, own[0]!.id);
    const all = [];
    let after: string | null = null;
    do {
      const page = await listJobs(ctx.db.db, { first: 2, after });
      all.push(...page.jobs);
      after = page.hasNextPage ? page.endCursor : null;
    } while (after);
    expect(all.length).toBeGreaterThanOrEqual(3);
    expect(all.map((j) => j.id)).toEqual((await listJobs(ctx.db.db, { first: 100 })).jobs.map((j) => j.id));
    for (let i = 1; i < all.length; i++) expect(all[i - 1]!.createdAt.getTime()).toBeGreaterThanOrEqual(all[i]!.createdAt.getTime());
    const cancelled = await listJobs(ctx.db.db, { status: 'CANCELLED' });
    expect(cancelled.jobs.map((j) => j.id)).toContain(own[0]!.id);
    expect(cancelled.jobs.every((j) => j.status === 'CANCELLED')).toBe(true);
    expect((await listJobs(ctx.db.db, { status: ['QUEUED'] })).jobs.map((j) => j.id)).toEqual(expect.arrayContaining([own[1]!.id, own[2]!.id]));
    await expect(listJobs(ctx.db.db, { after: 'bogus' })).rejects.toThrow(/cursor "bogus" is not a jobs cursor/);
  });
});

describe('jobs on PGlite: the in-process runner, a child process per run', () => {
  let db: TestDatabase;
  let runner: InProcessRunner | undefined;
  const TIMING = { heartbeatMs: 1000 };

  beforeAll(async () => {
    requireBuild();
    db = await freshDatabase('pglite');
    await seedSynthetic(db, SEED);
    runner = startInProcessRunner(db, { pollIntervalMs: 200, timing: TIMING });
  });
  afterAll(async () => {
    await runner?.stop();
    await db?.dispose();
  });

  it('runs a job queued -> running -> succeeded, with progress, events and a registered model on the device it reports', async () => {
    const job = await enqueueJob(db, { kind: 'PRETRAIN', input: { ...SMALL_JOB, epochs: 2 } });
    const statuses: string[] = [];
    let sawProgress = false;
    for await (const j of watchJob(db.db, job.id, { intervalMs: 50 })) {
      if (statuses.at(-1) !== j.status) statuses.push(j.status);
      if (j.status === 'RUNNING' && j.progress && j.progress.step > 0) sawProgress = true;
    }
    expect(statuses[0]).toBe('QUEUED');
    expect(statuses.at(-1)).toBe('SUCCEEDED');
    expect(statuses).toContain('RUNNING');
    expect(sawProgress).toBe(true);
    const done = await getJob(db.db, job.id);
    expect(done).toMatchObject({ status: 'SUCCEEDED', attempts: 1, error: null, device: 'CPU' });
    // Three fits of 2 epochs reported as one run of 6: cosine and inner product from the ALS start (`scoring` left out),
    // then the kept scoring from a random start (`rowInit` left out).
    expect(done.progress).toMatchObject({ epoch: 6, epochs: 6, phase: 'registering' });
    expect((done.metrics as { test: Record<string, number> }).test['hr@10']).toBeGreaterThan(0);
    const model = await getModel(db.db, done.modelId!);
    expect(model).toMatchObject({ status: 'READY', jobId: job.id, device: done.device, backend: done.backend, kind: 'PRETRAIN' });
    const kinds = await eventKinds(db, job.id);
    expect(kinds.slice(0, 4)).toEqual(['queued', 'started', 'phase', 'backend']);
    // 2 epochs, fitted by cosine and by inner product, then from the other row start (both left out: chosen on the carve).
    expect(kinds.filter((k) => k === 'epoch')).toHaveLength(6);
    expect(kinds.at(-1)).toBe('succeeded');
  });

  it('fails a GPU job at once, naming @tensorflow/tfjs-node-gpu and how to install it, never falling back to CPU', async () => {
    const job = await enqueueJob(db, { kind: 'PRETRAIN', input: SMALL_JOB, device: 'GPU' });
    const done = await waitFor('the GPU job to end', async () => {
      const j = await getJob(db.db, job.id);
      return j.status === 'QUEUED' || j.status === 'RUNNING' ? undefined : j;
    });
    expect(done.status).toBe('FAILED');
    expect(done.error).toMatch(/@tensorflow\/tfjs-node-gpu.*npm install @tensorflow\/tfjs-node-gpu@4\.22\.0.*CUDA/);
    expect(done.device).toBeNull();
    expect(done.modelId).toBeNull();
    expect(await eventKinds(db, job.id)).not.toContain('backend');
  });

  it('cancels a running job within seconds through the training loop; it ends CANCELLED and leaves no model', async () => {
    const job = await enqueueJob(db, { kind: 'PRETRAIN', input: ENDLESS_JOB });
    await waitFor('the job to be training', async () => ((await getJob(db.db, job.id)).progress?.step ?? 0) > 0);
    expect((await requestCancel(db, job.id)).status).toBe('RUNNING');
    const done = await waitFor('the cancellation', async () => {
      const j = await getJob(db.db, job.id);
      return j.status === 'RUNNING' ? undefined : j;
    }, 20_000);
    expect(done.status).toBe('CANCELLED');
    expect(done.modelId).toBeNull();
    expect(await db.db.selectFrom('models').select('id').where('job_id', '=', job.id).execute()).toEqual([]);
    // An epoch that ends while the cancel travels to the child may be logged in between.
    const kinds = await eventKinds(db, job.id);
    expect(kinds.at(-1)).toBe('cancelled');
    expect(kinds).toContain('cancel_requested');
    expect(kinds.slice(kinds.lastIndexOf('cancel_requested') + 1, -1).every((k) => k === 'epoch')).toBe(true);
  });

  it('a child that runs out of memory fails only its job; the next job runs', async () => {
    await runner!.stop();
    const starved = startInProcessRunner(db, { pollIntervalMs: 200, timing: TIMING, child: { maxOldSpaceMb: 8, onStderr: () => undefined } });
    const job = await enqueueJob(db, { kind: 'PRETRAIN', input: SMALL_JOB });
    const failed = await waitFor('the starved job to fail', async () => {
      const j = await getJob(db.db, job.id);
      return j.status === 'FAILED' ? j : undefined;
    });
    await starved.stop();
    expect(failed.error).toMatch(/training process ran out of memory/);
    runner = startInProcessRunner(db, { pollIntervalMs: 200, timing: TIMING });
    const next = await enqueueJob(db, { kind: 'PRETRAIN', input: SMALL_JOB });
    await waitFor('the next job to succeed', async () => (await getJob(db.db, next.id)).status === 'SUCCEEDED');
  });

  it('after a restart, requeues the job the dead server process was running and runs it again', async () => {
    await runner!.stop();
    const job = await enqueueJob(db, { kind: 'PRETRAIN', input: SMALL_JOB });
    // The previous server process had claimed it when it died.
    expect(await claimJob(db.db, job.id, 'old-host:999:in-process:dead')).not.toBeNull();
    runner = startInProcessRunner(db, { pollIntervalMs: 200, timing: TIMING });
    const done = await waitFor('the recovered job to succeed', async () => {
      const j = await getJob(db.db, job.id);
      return j.status === 'SUCCEEDED' ? j : undefined;
    });
    expect(done.attempts).toBe(2);
    const events = await listJobEvents(db.db, job.id);
    expect(events.find((e) => e.kind === 'requeued')?.payload.reason).toMatch(/old-host:999:in-process:dead stopped sending heartbeats/);
    expect(events.filter((e) => e.kind === 'started').map((e) => e.payload.workerId)).toEqual(['old-host:999:in-process:dead', runner!.workerId]);
  });
});
