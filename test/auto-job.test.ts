import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedSynthetic } from '../seeds/seed-database.js';
import { startInProcessRunner, type InProcessRunner } from '../src/jobs/in-process-runner.js';
import { enqueueJob, getJob, listJobEvents } from '../src/jobs/job-repository.js';
import { watchJob } from '../src/jobs/watch-job.js';
import { getModel, listModels } from '../src/registry/model-repository.js';
import type { SearchReport, TransferReport } from '../src/transfer/transfer-report.js';
import { ALS_MODEL, DEFAULT_EVALUATION, DEFAULT_MODEL, DEFAULT_TRAINING } from '../src/workflows/model-settings.js';
import { prepareDomain } from '../src/workflows/prepared-domain.js';
import { pretrain } from '../src/workflows/pretrain.workflow.js';
import { registerTrainedModel } from '../src/workflows/register-trained-model.js';
import { describeEachStorage, freshDatabase, type TestDatabase } from './support/databases.js';
import { requireBuild } from './support/job-helpers.js';

const SEED = { users: 300, seed: 3, sourceItems: 150, targetItems: 80 };

async function alsSource(db: TestDatabase): Promise<string> {
  const prepared = await prepareDomain(db, 'source', { split: { kind: 'none' }, tokenBuckets: ALS_MODEL.tokenBuckets });
  const trained = await pretrain(prepared, { model: { ...ALS_MODEL, dim: 8 }, training: { ...DEFAULT_TRAINING, epochs: 3 }, evaluation: DEFAULT_EVALUATION });
  return (await registerTrainedModel(db, { domain: 'source', kind: 'PRETRAIN' }, trained)).id;
}

describeEachStorage('transfer jobs with strategy AUTO: input', (ctx) => {
  let source: string;
  beforeAll(async () => {
    await seedSynthetic(ctx.db, SEED);
    source = await alsSource(ctx.db);
  });

  it('defaults to AUTO with the default budget, parses a budget, and refuses a bad one or one without AUTO', async () => {
    const auto = await enqueueJob(ctx.db, { kind: 'TRANSFER', input: { sourceModelId: source, targetDomain: 'target' } });
    expect(auto.input).toMatchObject({ strategy: 'AUTO', budget: { kind: 'trials', trials: 16 } });
    const minutes = await enqueueJob(ctx.db, { kind: 'TRANSFER', input: { sourceModelId: source, targetDomain: 'target', strategy: 'AUTO', budget: '10m' } });
    expect(minutes.input).toMatchObject({ budget: { kind: 'minutes', minutes: 10 } });
    await expect(enqueueJob(ctx.db, { kind: 'TRANSFER', input: { sourceModelId: source, targetDomain: 'target', budget: 'lots' } })).rejects.toThrow(/budget "lots" is neither a number of trials/);
    await expect(enqueueJob(ctx.db, { kind: 'TRANSFER', input: { sourceModelId: source, targetDomain: 'target', strategy: 'FULL', budget: 3 } })).rejects.toThrow(/budget = 3 applies to strategy AUTO only/);
    await expect(enqueueJob(ctx.db, { kind: 'TRANSFER', input: { sourceModelId: source, targetDomain: 'target', strategy: 'SOMETIMES' as never } })).rejects.toThrow(/strategy "SOMETIMES" is unknown; use FEATURE_EXTRACTION, PARTIAL, FULL, JOINT, AUTO/);
  });

  it('takes auto and budget for a pretraining job as graft train --auto does, with the same checks', async () => {
    const plain = await enqueueJob(ctx.db, { kind: 'PRETRAIN', input: { domain: 'source' } });
    expect(plain.input).not.toHaveProperty('budget');
    const auto = await enqueueJob(ctx.db, { kind: 'PRETRAIN', input: { domain: 'source', auto: true } });
    expect(auto.input).toMatchObject({ budget: { kind: 'trials', trials: 16 } });
    const minutes = await enqueueJob(ctx.db, { kind: 'PRETRAIN', input: { domain: 'source', auto: true, budget: '10m' } });
    expect(minutes.input).toMatchObject({ budget: { kind: 'minutes', minutes: 10 } });
    await expect(enqueueJob(ctx.db, { kind: 'PRETRAIN', input: { domain: 'source', auto: true, budget: 'lots' } })).rejects.toThrow(/budget "lots" is neither a number of trials/);
    await expect(enqueueJob(ctx.db, { kind: 'PRETRAIN', input: { domain: 'source', budget: 3 } })).rejects.toThrow(/budget = 3 applies with auto only; drop it or add auto: true/);
  });
});

describe('a transfer job with strategy AUTO on the in-process runner', () => {
  let db: TestDatabase;
  let runner: InProcessRunner | undefined;
  beforeAll(async () => {
    requireBuild();
    db = await freshDatabase('pglite');
    await seedSynthetic(db, SEED);
    runner = startInProcessRunner(db, { pollIntervalMs: 200, timing: { heartbeatMs: 1000 } });
  });
  afterAll(async () => {
    await runner?.stop();
    await db?.dispose();
  });

  it('records one job event per trial, stores the trial table in the report and registers the chosen strategy', async () => {
    const source = await alsSource(db);
    const job = await enqueueJob(db, { kind: 'TRANSFER', input: { sourceModelId: source, targetDomain: 'target', budget: 3 } });
    for await (const j of watchJob(db.db, job.id, { intervalMs: 100 })) if (j.status === 'FAILED') break;
    const done = await getJob(db.db, job.id);
    expect(done.status, done.error ?? '').toBe('SUCCEEDED');
    const search = (done.transferReport as unknown as TransferReport).search as SearchReport;
    const events = (await listJobEvents(db.db, job.id, { limit: 500 })).filter((e) => e.kind === 'trial');
    expect(events.length).toBe(search.trials.length);
    expect(events.map((e) => [e.payload.search, e.payload.config, e.payload.rung])).toEqual(search.trials.map((t) => [t.search, t.config, t.rung]));
    const model = await getModel(db.db, done.modelId!);
    expect(['FEATURE_EXTRACTION', 'FULL', 'JOINT']).toContain(model.strategy);
    expect(model.strategy).toBe((done.transferReport as unknown as TransferReport).strategy);
  });

  it('runs a pretraining job with auto: one job event per trial, the search stored with the model', async () => {
    const job = await enqueueJob(db, { kind: 'PRETRAIN', input: { domain: 'target', objective: 'implicit-als', dim: 8, auto: true, budget: 3 } });
    for await (const j of watchJob(db.db, job.id, { intervalMs: 100 })) if (j.status === 'FAILED') break;
    const done = await getJob(db.db, job.id);
    expect(done.status, done.error ?? '').toBe('SUCCEEDED');
    const model = await getModel(db.db, done.modelId!);
    const config = model.config as { chosenBy?: string; search?: SearchReport };
    expect(config.chosenBy).toBe('AUTO');
    const events = (await listJobEvents(db.db, job.id, { limit: 500 })).filter((e) => e.kind === 'trial');
    expect(events.length).toBeGreaterThanOrEqual(3);
    expect(events.map((e) => [e.payload.config, e.payload.rung])).toEqual(config.search!.trials.map((t) => [t.config, t.rung]));
  });

  it('from a softmax source, trains the implicit-ALS twin in the training child, registers it with the job and its lineage, and the next job reuses it', async () => {
    const prepared = await prepareDomain(db, 'source', { split: { kind: 'none' }, tokenBuckets: DEFAULT_MODEL.tokenBuckets });
    const trained = await pretrain(prepared, { model: { ...DEFAULT_MODEL, dim: 8, layers: [16, 8] }, training: { ...DEFAULT_TRAINING, epochs: 2 }, evaluation: DEFAULT_EVALUATION });
    const softmax = (await registerTrainedModel(db, { domain: 'source', kind: 'PRETRAIN' }, trained)).id;
    const run = async () => {
      const job = await enqueueJob(db, { kind: 'TRANSFER', input: { sourceModelId: softmax, targetDomain: 'target', budget: 2 } });
      for await (const j of watchJob(db.db, job.id, { intervalMs: 100 })) if (j.status === 'FAILED') break;
      const done = await getJob(db.db, job.id);
      expect(done.status, done.error ?? '').toBe('SUCCEEDED');
      return done;
    };
    const first = await run();
    const twins = (await listModels(db.db, { domain: 'source' })).filter((m) => m.parentModelId === softmax);
    expect(twins).toHaveLength(1);
    expect(twins[0]).toMatchObject({ kind: 'PRETRAIN', jobId: first.id, status: 'READY' });
    expect(twins[0]!.config).toMatchObject({ retrainedFrom: softmax, model: { objective: 'implicit-als' } });
    const result = await getModel(db.db, first.modelId!);
    const report = first.transferReport as unknown as TransferReport;
    expect(report.search!.trials.some((t) => t.label.startsWith('from the implicit-als source retrained by AUTO: '))).toBe(true);
    if (report.outcome !== 'TARGET_ONLY') expect([softmax, twins[0]!.id]).toContain(result.parentModelId);
    const second = await run();
    expect((await listModels(db.db, { domain: 'source' })).filter((m) => m.parentModelId === softmax)).toHaveLength(1);
    expect((second.transferReport as unknown as TransferReport).search!.trials.some((t) => t.label.startsWith(`from implicit-als source ${twins[0]!.id}: `))).toBe(true);
  });
});
