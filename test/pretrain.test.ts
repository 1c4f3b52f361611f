import { expect, it } from 'vitest';
import { seedSynthetic } from '../seeds/seed-database.js';
import { listModels, loadWeights } from '../src/registry/index.js';
import { evaluateStoredModel } from '../src/workflows/evaluate-stored-model.js';
import { ALS_MODEL, DEFAULT_EVALUATION, DEFAULT_MODEL, DEFAULT_TRAINING } from '../src/workflows/model-settings.js';
import { prepareDomain } from '../src/workflows/prepared-domain.js';
import { pretrain } from '../src/workflows/pretrain.workflow.js';
import { registerTrainedModel } from '../src/workflows/register-trained-model.js';
import { describeEachStorage } from './support/databases.js';

describeEachStorage('pretraining a domain end to end', (ctx) => {
  it('trains on the synthetic source, beats popularity, registers the model, and eval reproduces the metrics', async () => {
    await seedSynthetic(ctx.db, { users: 500, seed: 3, sourceItems: 400, targetItems: 200 });
    const model = { ...DEFAULT_MODEL, dim: 32, layers: [64, 32], seed: 5 };
    const prepared = await prepareDomain(ctx.db, 'source', { split: { kind: 'leave-one-out', mode: 'last' }, tokenBuckets: model.tokenBuckets });
    expect(prepared.validation!.users.length).toBeGreaterThan(400);
    const evaluation = { ...DEFAULT_EVALUATION, negatives: 199 };
    const trained = await pretrain(prepared, { model, training: { ...DEFAULT_TRAINING, epochs: 6, patience: 0 }, evaluation });

    // The planted taste structure is learnable: the model must clearly beat popularity.
    expect(trained.metrics.test['hr@10']!).toBeGreaterThan(trained.metrics.popularity['hr@10']! + 0.05);
    expect(trained.userVectors.length).toBe(prepared.userDbIds.length * trained.outputDim);

    const record = await registerTrainedModel(ctx.db, { domain: 'source', kind: 'PRETRAIN' }, trained);
    expect(record.status).toBe('READY');
    expect((await listModels(ctx.db.db, { domain: 'source' })).map((m) => m.id)).toEqual([record.id]);
    expect((await loadWeights(ctx.db.db, record.id)).map((w) => w.name)).toContain('item.embedding');

    // Evaluating from the stored embeddings gives the same numbers as right after training.
    const again = await evaluateStoredModel(ctx.db, record.id, evaluation);
    expect(again.metrics.users).toBe(trained.metrics.users);
    expect(again.metrics.test['hr@10']).toBeCloseTo(trained.metrics.test['hr@10']!, 3);
    expect(again.metrics.popularity['hr@10']).toBeCloseTo(trained.metrics.popularity['hr@10']!, 10);
  });

  it('implicit-als: solves on every training event (the validation carve too, a fixed number of sweeps), beats popularity, and eval from the stored raw embeddings reproduces it', async () => {
    if (ctx.kind === 'postgres') return; // the first test covers both storages; this is the same path with another objective
    // The synthetic source is dense (~26 events per user): alpha 1 and λ 10 fit it (measured 0.41 HR@10; the Amazon defaults 40 / 0.1 give 0.31, popularity 0.29).
    const model = { ...ALS_MODEL, dim: 16, alsAlpha: 1, alsRegularization: 10, seed: 5 };
    const prepared = await prepareDomain(ctx.db, 'source', { split: { kind: 'leave-one-out', mode: 'last' }, tokenBuckets: model.tokenBuckets });
    const evaluation = { ...DEFAULT_EVALUATION, negatives: 199 };
    const trained = await pretrain(prepared, { model, training: { ...DEFAULT_TRAINING, epochs: 5 }, evaluation });
    expect(trained.metrics.training.epochs).toBe(5);
    expect(trained.metrics.training.bestEpoch).toBeUndefined();
    expect(trained.metrics.test['hr@10']!).toBeGreaterThan(trained.metrics.popularity['hr@10']! + 0.05);
    // Raw rows: not unit vectors.
    const norms = Array.from({ length: 20 }, (_, u) => Math.hypot(...trained.userVectors.subarray(u * 16, (u + 1) * 16)));
    expect(norms.some((n) => Math.abs(n - 1) > 0.05)).toBe(true);
    const record = await registerTrainedModel(ctx.db, { domain: 'source', kind: 'PRETRAIN' }, trained);
    const again = await evaluateStoredModel(ctx.db, record.id, evaluation);
    expect(again.metrics.test['hr@10']).toBeCloseTo(trained.metrics.test['hr@10']!, 3);
  });
});
