import { beforeAll, expect, it } from 'vitest';
import { seedSynthetic } from '../seeds/seed-database.js';
import { activateModel, getModel } from '../src/registry/index.js';
import { ALS_MODEL, HYBRID_MODEL, DEFAULT_EVALUATION, DEFAULT_MODEL, DEFAULT_TRAINING } from '../src/workflows/model-settings.js';
import { prepareDomain } from '../src/workflows/prepared-domain.js';
import { prepareTransfer } from '../src/workflows/prepare-transfer.js';
import { pretrain } from '../src/workflows/pretrain.workflow.js';
import { registerTrainedModel } from '../src/workflows/register-trained-model.js';
import { transfer, type TransferHooks, type TransferSettings } from '../src/workflows/transfer.workflow.js';
import type { EvaluationReport } from '../src/evaluation/evaluate.js';
import { describeEachStorage } from './support/databases.js';

const MODEL = { ...DEFAULT_MODEL, dim: 32, layers: [64, 32], seed: 5 };
const TRAINING = { ...DEFAULT_TRAINING, epochs: 6, patience: 0 };
const EVALUATION = { ...DEFAULT_EVALUATION, negatives: 199 };

describeEachStorage('domain transfer end to end', (ctx) => {
  async function pretrainOn(domain: string) {
    const prepared = await prepareDomain(ctx.db, domain, { split: { kind: 'leave-one-out', mode: 'last' }, tokenBuckets: MODEL.tokenBuckets });
    const trained = await pretrain(prepared, { model: MODEL, training: TRAINING, evaluation: EVALUATION });
    return registerTrainedModel(ctx.db, { domain, kind: 'PRETRAIN' }, trained);
  }

  async function transferTo(sourceModelId: string, target: string, settings: Partial<TransferSettings> = {}, hooks: TransferHooks = {}) {
    const prepared = await prepareTransfer(ctx.db, sourceModelId, target, { split: { kind: 'leave-one-out', mode: 'last' }, coldStartShare: 0.15, seed: 3 });
    const result = await transfer(prepared, {
      strategy: 'PARTIAL',
      freezeLayers: 1,
      replayWeight: 0.5,
      replayFraction: 1,
      // The JOINT reference is covered by joint-transfer.test.ts; these cases do not need its cost.
      jointReference: false,
      training: TRAINING,
      evaluation: EVALUATION,
      seed: 11,
      ...settings,
    }, hooks);
    const record = await registerTrainedModel(
      ctx.db,
      { domain: target, kind: 'TRANSFER', strategy: result.report.strategy as 'PARTIAL', parentModelId: sourceModelId, transferReport: result.report as never, negativeTransfer: result.report.negativeTransfer },
      result.trained,
    );
    return { ...result, record, prepared };
  }

  beforeAll(async () => {
    // Related domains (target tastes = source tastes + noise) and an unrelated pair.
    await seedSynthetic(ctx.db, { users: 700, seed: 21, sourceItems: 500, targetItems: 300 });
    await seedSynthetic(ctx.db, { users: 700, seed: 22, sourceItems: 500, targetItems: 300, independentTarget: true, sourceName: 'other-source', targetName: 'other-target' });
  });

  it('beats the same-budget target-only baseline overall and for users with no target history, and records lineage', async () => {
    const source = await pretrainOn('source');
    let evaluated: EvaluationReport | undefined;
    const { report, record, prepared } = await transferTo(source.id, 'target', {}, { onEvaluated: (r) => (evaluated = r) });
    // The hook hands over the test evaluation user by user (bench/transfer's paired comparisons of two transfers).
    expect(evaluated!.users).toBe(report.users);
    expect(evaluated!.perUser.users.length).toBe(report.users);
    const hits = evaluated!.perUser.values['hr@10']!;
    expect(hits.reduce((sum, v) => sum + v, 0) / hits.length).toBeCloseTo(report.metrics['hr@10']!, 5);

    expect(report.overlap.usersInBoth).toBeGreaterThan(400);
    expect(report.overlap.usersWithoutTargetHistory).toBeGreaterThan(100);
    expect(prepared.coldStartTestUsers).toBeGreaterThan(50);
    // Margins stated: at least +0.05 HR@10 overall with an interval above 0, and +0.05 on the cold-start stratum.
    expect(report.gain['hr@10']!.value).toBeGreaterThan(0.05);
    expect(report.gain['hr@10']!.ci95[0]).toBeGreaterThan(0);
    expect(report.negativeTransfer).toBe(false);
    const cold = report.strata.find((s) => s.label === '0')!;
    expect(cold.users).toBe(prepared.coldStartTestUsers);
    expect(cold.transferred['hr@10']!).toBeGreaterThan(cold.baseline['hr@10']! + 0.05);

    const stored = await getModel(ctx.db.db, record.id);
    expect(stored.parentModelId).toBe(source.id);
    expect(stored.kind).toBe('TRANSFER');
    expect(stored.strategy).toBe('PARTIAL');
    expect((stored.transferReport as { gain: Record<string, unknown> }).gain['hr@10']).toBeDefined();
    await activateModel(ctx.db.db, record.id);
    expect((await getModel(ctx.db.db, record.id)).status).toBe('ACTIVE');
  });

  it("itemInit implicit-als: the new target rows start at an ALS solve against the grafted rows, and the transfer still beats its baseline", async () => {
    if (ctx.kind === 'postgres') return; // storage-independent computation (the first test covers both storages)
    const source = await pretrainOn('source');
    const settings = { strategy: 'FEATURE_EXTRACTION' as const, training: { ...TRAINING, epochs: 2 } };
    const als = await transferTo(source.id, 'target', { ...settings, itemInit: 'implicit-als' });
    const random = await transferTo(source.id, 'target', settings);
    // FEATURE_EXTRACTION trains the new rows only: a different start, a different model.
    const targetItems = als.prepared.target.itemDbIds.length;
    const d = als.trained.outputDim;
    expect(Array.from(als.trained.itemVectors.subarray(0, targetItems * d))).not.toEqual(Array.from(random.trained.itemVectors.subarray(0, targetItems * d)));
    // Margin stated: its gain over the same-budget baseline has its interval above 0.
    expect(als.report.gain['hr@10']!.ci95[0]).toBeGreaterThan(0);
    expect(als.report.negativeTransfer).toBe(false);
    // An unknown start is refused before anything trains, naming the value and the choices.
    await expect(transferTo(source.id, 'target', { ...settings, itemInit: 'svd' as never })).rejects.toThrow(/settings.itemInit = "svd" is unknown; use random, co-users, implicit-als/);
  });

  it('adds a learned item bias at transfer time: source rows frozen at 0 under FEATURE_EXTRACTION, new items train theirs, scores carry it', async () => {
    if (ctx.kind === 'postgres') return; // storage-independent computation
    const source = await pretrainOn('source');
    const { trained, record } = await transferTo(source.id, 'target', { strategy: 'FEATURE_EXTRACTION', freezeLayers: undefined, itemBias: { learningRate: 30 } });
    const bias = trained.weights.find((w) => w.name === 'item.bias')!;
    const nTarget = trained.candidateItems;
    expect(bias.shape).toEqual([trained.itemDbIds.length, 1]);
    expect(bias.data.subarray(nTarget).every((b) => b === 0)).toBe(true);
    expect(bias.data.subarray(0, nTarget).some((b) => b !== 0)).toBe(true);
    // Stored vectors are [u, 1] and [v, T b]: inner products rank like the training logits.
    expect(trained.outputDim).toBe(MODEL.layers.at(-1)! + 1);
    for (let u = 0; u < 5; u++) expect(trained.userVectors[u * trained.outputDim + trained.outputDim - 1]).toBe(1);
    expect(trained.itemVectors[trained.outputDim - 1]).toBeCloseTo(MODEL.temperature * bias.data[0]!, 6);
    const stored = await getModel(ctx.db.db, record.id);
    expect((stored.config as { model: { itemBias: boolean } }).model.itemBias).toBe(true);
  });

  it('a source whose popularity term its own carve chose: a learned bias added at transfer time starts at 0 on its rows, not at the source\'s term', async () => {
    if (ctx.kind === 'postgres') return; // storage-independent computation
    // The synthetic target's items are Zipf-popular: its carve chooses a term (stored in the item-bias column).
    const source = await pretrainOn('target');
    expect((source.config as { model: { popularityWeight: number } }).model.popularityWeight).toBeGreaterThan(0);
    const { trained } = await transferTo(source.id, 'source', { strategy: 'FEATURE_EXTRACTION', freezeLayers: undefined, itemBias: { learningRate: 30 } });
    const bias = trained.weights.find((w) => w.name === 'item.bias')!;
    expect(bias.data.subarray(trained.candidateItems).every((b) => b === 0)).toBe(true);
    expect(bias.data.subarray(0, trained.candidateItems).some((b) => b !== 0)).toBe(true);
  });

  it('a softmax transfer with a popularity term (AUTO delivers one): the term counts the target\'s training events only, source-only items get 0', async () => {
    if (ctx.kind === 'postgres') return; // storage-independent computation
    const source = await pretrainOn('source');
    const beta = 0.1;
    const { trained, record, prepared } = await transferTo(source.id, 'target', { strategy: 'FULL', freezeLayers: undefined, model: { popularityWeight: beta } });
    const d = trained.outputDim;
    expect(d).toBe(MODEL.layers.at(-1)! + 1);
    const nTarget = trained.candidateItems;
    const counts = new Array<number>(nTarget).fill(0);
    for (const i of prepared.target.train.items) counts[i]++;
    expect(Array.from({ length: nTarget }, (_, i) => trained.itemVectors[i * d + d - 1])).toEqual(counts.map((n) => Math.fround(beta * Math.log1p(n))));
    const bias = trained.weights.find((w) => w.name === 'item.bias')!;
    expect(bias.data.subarray(nTarget).every((b) => b === 0)).toBe(true);
    const stored = await getModel(ctx.db.db, record.id);
    expect((stored.config as { model: { popularityWeight: number } }).model.popularityWeight).toBe(beta);
  });

  it('implicit-als: pretrained rows stay bit-identical under FEATURE_EXTRACTION and PARTIAL, move under FULL, and every strategy beats the baseline', async () => {
    if (ctx.kind === 'postgres') return; // storage-independent computation (the first test covers both storages)
    const alsModel = { ...ALS_MODEL, dim: 16, seed: 5 };
    const prepared = await prepareDomain(ctx.db, 'source', { split: { kind: 'leave-one-out', mode: 'last' }, tokenBuckets: alsModel.tokenBuckets });
    const pretrained = await pretrain(prepared, { model: alsModel, training: { ...TRAINING, epochs: 8 }, evaluation: EVALUATION });
    expect(pretrained.metrics.test['hr@10']!).toBeGreaterThan(pretrained.metrics.popularity['hr@10']!);
    const source = await registerTrainedModel(ctx.db, { domain: 'source', kind: 'PRETRAIN' }, pretrained);
    const sourceUsers = pretrained.weights.find((w) => w.name === 'user.embedding')!;
    const dim = alsModel.dim;
    for (const strategy of ['FEATURE_EXTRACTION', 'PARTIAL', 'FULL'] as const) {
      const { report, trained, record } = await transferTo(source.id, 'target', { strategy, freezeLayers: strategy === 'PARTIAL' ? 1 : undefined, training: { ...TRAINING, epochs: 8 } });
      expect((await getModel(ctx.db.db, record.id)).config).toMatchObject({ model: { objective: 'implicit-als', layers: [] } });
      // Rows of users the source knew, by database id, before and after.
      const users = trained.weights.find((w) => w.name === 'user.embedding')!;
      const sourceRowOf = new Map(Array.from(pretrained.userDbIds, (id, row) => [id, row]));
      let identical = 0;
      let compared = 0;
      trained.userDbIds.forEach((id, row) => {
        const from = sourceRowOf.get(id);
        if (from === undefined) return;
        compared++;
        const a = users.data.subarray(row * dim, (row + 1) * dim);
        const b = sourceUsers.data.subarray(from * dim, (from + 1) * dim);
        if (a.every((v, k) => Object.is(v, b[k]))) identical++;
      });
      expect(compared).toBeGreaterThan(400);
      expect(identical).toBe(strategy === 'FULL' ? 0 : compared);
      // Margins stated: +0.05 HR@10 overall with an interval above 0, +0.03 for users with no target history (popularity for the baseline).
      const cold = report.strata.find((s) => s.label === '0')!;
      expect(report.gain['hr@10']!.value).toBeGreaterThan(0.05);
      expect(report.gain['hr@10']!.ci95[0]).toBeGreaterThan(0);
      expect(cold.transferred['hr@10']!).toBeGreaterThan(cold.baseline['hr@10']! + 0.03);
    }
  });

  it('hybrid: FEATURE_EXTRACTION keeps the pretrained rows and the whole top; PARTIAL(1) keeps the rows and trains the top above them', async () => {
    if (ctx.kind === 'postgres') return; // storage-independent computation (the first test covers both storages)
    const hybridModel = { ...HYBRID_MODEL, dim: 16, layers: [32, 16], seed: 5, alsSweeps: 6 };
    const prepared = await prepareDomain(ctx.db, 'source', { split: { kind: 'leave-one-out', mode: 'last' }, tokenBuckets: hybridModel.tokenBuckets });
    const pretrained = await pretrain(prepared, { model: hybridModel, training: { ...TRAINING, epochs: 3 }, evaluation: EVALUATION });
    expect(pretrained.metrics.test['hr@10']!).toBeGreaterThan(pretrained.metrics.popularity['hr@10']!);
    const source = await registerTrainedModel(ctx.db, { domain: 'source', kind: 'PRETRAIN' }, pretrained);
    const weight = (weights: typeof pretrained.weights, name: string) => weights.find((w) => w.name === name)!.data;
    const dim = hybridModel.dim;
    for (const strategy of ['FEATURE_EXTRACTION', 'PARTIAL'] as const) {
      const { report, trained, record } = await transferTo(source.id, 'target', { strategy, freezeLayers: strategy === 'PARTIAL' ? 1 : undefined, training: { ...TRAINING, epochs: 3 } });
      expect((await getModel(ctx.db.db, record.id)).config).toMatchObject({ model: { objective: 'hybrid', layers: [32, 16] } });
      const users = weight(trained.weights, 'user.embedding');
      const sourceUsers = weight(pretrained.weights, 'user.embedding');
      const sourceRowOf = new Map(Array.from(pretrained.userDbIds, (id, row) => [id, row]));
      let identical = 0;
      let compared = 0;
      trained.userDbIds.forEach((id, row) => {
        const from = sourceRowOf.get(id);
        if (from === undefined) return;
        compared++;
        const a = users.subarray(row * dim, (row + 1) * dim);
        const b = sourceUsers.subarray(from * dim, (from + 1) * dim);
        if (a.every((v, k) => Object.is(v, b[k]))) identical++;
      });
      expect(compared).toBeGreaterThan(400);
      expect(identical).toBe(compared);
      const sameTop = ['user.dense.0.kernel', 'user.dense.1.kernel', 'item.dense.0.kernel', 'item.dense.1.kernel'].map((name) =>
        weight(trained.weights, name).every((v, k) => Object.is(v, weight(pretrained.weights, name)[k])),
      );
      if (strategy === 'FEATURE_EXTRACTION') {
        expect(sameTop).toEqual([true, true, true, true]);
        expect(report.frozen).toMatch(/^all 2 MLP layers, the token table and pretrained ID rows frozen; new target rows train \(ID rows solved by implicit ALS first/);
      } else {
        expect(report.frozen).toMatch(/^pretrained embedding rows frozen; 2 MLP layer\(s\) and new rows train \(ID rows solved by implicit ALS first, then any trainable MLP layer by gradient steps with every ID row held\)/);
        // The top trains on the target unless the carve chose 0 epochs, which the report's best epoch says.
        expect(sameTop.every(Boolean)).toBe(trained.metrics.training.bestEpoch === 0);
      }
      expect(report.metrics['hr@10']!).toBeGreaterThan(report.popularity['hr@10']!);
    }
  });

  it('flags a transfer from a source generated independently of the target as negative, and refuses to activate it', async () => {
    if (ctx.kind === 'pglite') return; // the computation is storage-independent: once is enough
    const source = await pretrainOn('other-source');
    const { report, record } = await transferTo(source.id, 'other-target');
    expect(report.negativeTransfer).toBe(true);
    expect(report.gain['hr@10']!.ci95[0]).toBeLessThanOrEqual(0);
    await expect(activateModel(ctx.db.db, record.id)).rejects.toThrow(/negative transfer/);
  });
});
