import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedSynthetic } from '../seeds/seed-database.js';
import { activationDecision } from '../src/jobs/job-handler.js';
import type { JobRecord, TransferJobConfig } from '../src/jobs/job-record.js';
import { enqueueJob, getJob, listJobEvents, requestCancel } from '../src/jobs/job-repository.js';
import { watchJob } from '../src/jobs/watch-job.js';
import { getModel } from '../src/registry/model-repository.js';
import type { TransferReport } from '../src/transfer/transfer-report.js';
import { freshDatabase, type TestDatabase } from './support/databases.js';
import { ENDLESS_JOB, SMALL_JOB, WorkerProcess, eventKinds, processAlive, requireBuild, waitFor } from './support/job-helpers.js';

/** Short heartbeats so that a killed worker's job is recovered in a couple of seconds. */
const WORKER_ARGS = ['--device', 'cpu', '--stale-after', '2', '--heartbeat', '0.25'];

describe('jobs on Postgres with real `graft worker` processes', () => {
  let db: TestDatabase;
  const workers: WorkerProcess[] = [];
  let a: WorkerProcess;
  let b: WorkerProcess;

  async function finished(jobId: string, timeoutMs = 60_000): Promise<JobRecord> {
    return waitFor(`job ${jobId} to finish`, async () => {
      const j = await getJob(db.db, jobId);
      return j.status === 'QUEUED' || j.status === 'RUNNING' ? undefined : j;
    }, timeoutMs);
  }

  async function modelsOf(jobId: string) {
    return db.db.selectFrom('models').select(['id', 'status']).where('job_id', '=', jobId).execute();
  }

  beforeAll(async () => {
    requireBuild();
    db = await freshDatabase('postgres');
    await seedSynthetic(db, { users: 200, seed: 3, sourceItems: 120, targetItems: 60 });
    [a, b] = await Promise.all([WorkerProcess.start(db.url!, WORKER_ARGS), WorkerProcess.start(db.url!, WORKER_ARGS)]);
    workers.push(a, b);
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await db?.dispose();
  });

  it('runs a pretraining job queued -> running -> succeeded with progress and a model, then a transfer with activateIfBetter', async () => {
    const job = await enqueueJob(db, { kind: 'PRETRAIN', input: { ...SMALL_JOB, epochs: 2 } });
    const statuses: string[] = [];
    for await (const j of watchJob(db.db, job.id, { intervalMs: 50 })) if (statuses.at(-1) !== j.status) statuses.push(j.status);
    // A worker can take the job (~35 ms) before the watcher's first read (50 ms): QUEUED may be gone
    // by then; the job's events below show it was queued first.
    expect([['QUEUED', 'RUNNING', 'SUCCEEDED'], ['RUNNING', 'SUCCEEDED']]).toContainEqual(statuses);
    const done = await getJob(db.db, job.id);
    expect(done).toMatchObject({ status: 'SUCCEEDED', attempts: 1, device: 'CPU' });
    expect([a.pid, b.pid].map((pid) => done.workerId?.endsWith(`:${pid}`))).toContain(true);
    expect(await getModel(db.db, done.modelId!)).toMatchObject({ status: 'READY', jobId: job.id, device: 'CPU', backend: done.backend });
    const kinds = await eventKinds(db, job.id);
    expect(kinds).toEqual(expect.arrayContaining(['queued', 'started', 'backend', 'epoch', 'succeeded']));
    expect(kinds.indexOf('queued')).toBeLessThan(kinds.indexOf('started'));
    // 2 epochs, fitted by cosine and by inner product, then from the other row start (both left out: chosen on the carve).
    expect(kinds.filter((k) => k === 'epoch')).toHaveLength(6);

    const transferSpec = {
      kind: 'TRANSFER' as const,
      input: { sourceModelId: done.modelId!, targetDomain: 'target', strategy: 'PARTIAL' as const, jointReference: false, epochs: 1, batchSize: 64, patience: 0, activateIfBetter: true, negatives: 99 },
      idempotencyKey: 'transfer-1',
    };
    const transfer = await enqueueJob(db, transferSpec);
    const t = await finished(transfer.id);
    expect(t.status).toBe('SUCCEEDED');
    const report = t.transferReport as unknown as TransferReport;
    expect(report.gain['hr@10']).toBeDefined();
    const model = await getModel(db.db, t.modelId!);
    expect(model).toMatchObject({ kind: 'TRANSFER', parentModelId: done.modelId, jobId: transfer.id, negativeTransfer: report.negativeTransfer });
    const decision = activationDecision(t.input as unknown as TransferJobConfig, report);
    expect(model.status).toBe(decision.activate ? 'ACTIVE' : 'READY');
    const succeeded = (await listJobEvents(db.db, transfer.id)).find((e) => e.kind === 'succeeded')!;
    expect(succeeded.payload).toMatchObject({ modelId: t.modelId, activated: decision.activate });
    // The same key gives the same job, even after it finished.
    expect((await enqueueJob(db, transferSpec)).id).toBe(transfer.id);
  });

  it('never runs one job twice with two workers taking from the same queue', async () => {
    const jobs = await Promise.all([1, 2, 3].map((seed) => enqueueJob(db, { kind: 'PRETRAIN', input: { ...SMALL_JOB, seed } })));
    const done = await Promise.all(jobs.map((j) => finished(j.id)));
    expect(done.map((j) => j.status)).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
    for (const j of done) {
      expect(j.attempts).toBe(1);
      const started = (await listJobEvents(db.db, j.id)).filter((e) => e.kind === 'started');
      expect(started).toHaveLength(1);
      expect(await modelsOf(j.id)).toEqual([{ id: j.modelId, status: 'READY' }]);
    }
  });

  it('a CPU-only worker never takes a GPU job; a GPU worker without @tensorflow/tfjs-node-gpu refuses to start, naming it', async () => {
    const gpuJob = await enqueueJob(db, { kind: 'PRETRAIN', input: SMALL_JOB, device: 'GPU' });
    const cpuJob = await enqueueJob(db, { kind: 'PRETRAIN', input: SMALL_JOB, device: 'CPU' });
    expect((await finished(cpuJob.id)).status).toBe('SUCCEEDED');
    expect(await getJob(db.db, gpuJob.id)).toMatchObject({ status: 'QUEUED', attempts: 0 });

    const gpuWorker = await WorkerProcess.start(db.url!, ['--device', 'gpu'], { expectReady: false });
    workers.push(gpuWorker);
    const { code } = await gpuWorker.exited;
    expect(code).toBe(1);
    expect(gpuWorker.output).toMatch(/GPU training needs @tensorflow\/tfjs-node-gpu, which is not installed.*npm install @tensorflow\/tfjs-node-gpu@4\.22\.0/);
    expect((await getJob(db.db, gpuJob.id)).status).toBe('QUEUED');
    expect((await requestCancel(db, gpuJob.id)).status).toBe('CANCELLED');
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from graphile_worker.jobs where key = ${gpuJob.id}`.execute(db.db);
    expect(rows[0]!.n).toBe(0);
  });

  it('cancels a running job within seconds; it ends CANCELLED with no model', async () => {
    const job = await enqueueJob(db, { kind: 'PRETRAIN', input: ENDLESS_JOB });
    await waitFor('the job to be training', async () => ((await getJob(db.db, job.id)).progress?.step ?? 0) > 0);
    await requestCancel(db, job.id);
    const done = await finished(job.id, 20_000);
    expect(done.status).toBe('CANCELLED');
    expect(await modelsOf(job.id)).toEqual([]);
    // An epoch that ends while the cancel travels to the child may be logged in between.
    const kinds = await eventKinds(db, job.id);
    expect(kinds.at(-1)).toBe('cancelled');
    expect(kinds.slice(kinds.lastIndexOf('cancel_requested') + 1, -1).every((k) => k === 'epoch')).toBe(true);
    expect(kinds).toContain('cancel_requested');
  });

  it('recovers from kill -9 of a worker mid-run: the training child ends too, a restarted worker retries the job and carries on with the queue', async () => {
    await b.stop();
    const job = await enqueueJob(db, { kind: 'PRETRAIN', input: { ...SMALL_JOB, epochs: 10 } });
    await waitFor('the job to be training on worker a', async () => {
      const j = await getJob(db.db, job.id);
      return (j.progress?.step ?? 0) > 0 && j.workerId?.endsWith(`:${a.pid}`);
    });
    const childPid = (await listJobEvents(db.db, job.id, { kinds: ['backend'] }))[0]!.payload.pid as number;
    expect(processAlive(childPid)).toBe(true);
    a.child.kill('SIGKILL');
    expect((await a.exited).signal).toBe('SIGKILL');
    await waitFor('the orphaned training process to exit', () => !processAlive(childPid), 10_000);
    const next = await enqueueJob(db, { kind: 'PRETRAIN', input: SMALL_JOB });
    expect((await getJob(db.db, job.id)).status).toBe('RUNNING');

    const restarted = await WorkerProcess.start(db.url!, WORKER_ARGS);
    workers.push(restarted);
    const recovered = await finished(job.id);
    const after = await finished(next.id);
    expect(recovered).toMatchObject({ status: 'SUCCEEDED', attempts: 2 });
    expect(after.status).toBe('SUCCEEDED');
    const events = await listJobEvents(db.db, job.id);
    expect(events.find((e) => e.kind === 'requeued')?.payload.reason).toMatch(new RegExp(`worker .*:${a.pid} stopped sending heartbeats.*retrying \\(attempt 2 of 2\\)`));
    expect(events.filter((e) => e.kind === 'started').map((e) => String(e.payload.workerId).split(':').at(-1))).toEqual([String(a.pid), String(restarted.pid)]);
    // Nothing from the dead run: one model, from the second attempt.
    expect(await modelsOf(job.id)).toEqual([{ id: recovered.modelId, status: 'READY' }]);
  });
});
