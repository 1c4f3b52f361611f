import { expect, it } from 'vitest';
import { seedSynthetic } from '../seeds/seed-database.js';
import { listModels, loadWeights } from '../src/registry/index.js';
import { evaluateStoredModel } from '../src/workflows/evaluate-stored-model.js';
import { DEFAULT_EVALUATION, DEFAULT_MODEL, DEFAULT_TRAINING } from '../src/workflows/model-settings.js';
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
});
