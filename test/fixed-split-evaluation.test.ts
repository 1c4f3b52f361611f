import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { seedSynthetic } from '../seeds/seed-database.js';
import { readDataset } from '../src/dataset/read-dataset.js';
import { importEventsFile } from '../src/logs/file-import.js';
import { evaluateStoredModel } from '../src/workflows/evaluate-stored-model.js';
import { DEFAULT_EVALUATION, DEFAULT_MODEL, DEFAULT_TRAINING } from '../src/workflows/model-settings.js';
import { prepareTransfer } from '../src/workflows/prepare-transfer.js';
import { prepareDomain } from '../src/workflows/prepared-domain.js';
import { pretrain } from '../src/workflows/pretrain.workflow.js';
import { registerTrainedModel } from '../src/workflows/register-trained-model.js';
import type { SplitSpec } from '../src/workflows/split-spec.js';
import { transfer } from '../src/workflows/transfer.workflow.js';
import { describeEachStorage } from './support/databases.js';

const MODEL = { ...DEFAULT_MODEL, dim: 16, layers: [32, 16], seed: 5 };
const TRAINING = { ...DEFAULT_TRAINING, epochs: 3, patience: 0 };
const EVALUATION = { ...DEFAULT_EVALUATION, negatives: 99, ks: [10] };

/**
 * A public cold-start split written as files, from the synthetic pair: domain "fixed" gets the
 * target events as a train file, and a test file holds each kept user's last target event. For
 * 60 users with source history the whole target history is left out of train (cold-start test
 * users: transfer's reason to exist). The test file opens with a header line and has one pair
 * of an unknown user and one of an unknown item.
 */
describeEachStorage('evaluation on a fixed split with cold-start test users', (ctx) => {
  let dir: string;
  let split: SplitSpec;
  const expected = { cold: 0, warm: 0, unknownItem: 1, coldWithUnknownItem: 0, trainRows: 0 };

  beforeAll(async () => {
    await seedSynthetic(ctx.db, { users: 500, seed: 31, sourceItems: 300, targetItems: 150 });
    const target = await readDataset(ctx.db, 'target');
    const source = await readDataset(ctx.db, 'source');
    const { offsets, items } = target.histories;
    const cold = new Set<number>();
    const last = new Map<number, number>();
    for (let u = 0; u < target.users.size; u++) {
      const n = offsets[u + 1]! - offsets[u]!;
      if (n < 3) continue;
      last.set(u, items[offsets[u + 1]! - 1]!);
      if (cold.size < 60 && source.users.index.has(target.users.ids[u]!)) cold.add(u);
    }
    const trainLines: string[] = [];
    const trainItems = new Set<string>();
    const seen = new Map<number, number>();
    target.interactions.users.forEach((u, k) => {
      const position = (seen.get(u) ?? 0) + 1;
      seen.set(u, position);
      const isLast = last.has(u) && position === offsets[u + 1]! - offsets[u]!;
      if (cold.has(u) || isLast) return;
      const item = target.items.ids[target.interactions.items[k]!]!;
      trainItems.add(item);
      trainLines.push(`${target.users.ids[u]}\t${item}\t1`);
    });
    const testLines = ['user\titem'];
    for (const [u, i] of last) {
      const item = target.items.ids[i]!;
      testLines.push(`${target.users.ids[u]}\t${item}`);
      if (!trainItems.has(item)) {
        expected.unknownItem++;
        if (cold.has(u)) expected.coldWithUnknownItem++;
      } else if (cold.has(u)) expected.cold++;
      else expected.warm++;
    }
    const someUser = target.users.ids[[...last.keys()].find((u) => !cold.has(u))!]!;
    testLines.push(`ghost-user\t${[...trainItems][0]}`, `${someUser}\tno-such-item`);
    expected.trainRows = trainLines.length;
    dir = mkdtempSync(join(tmpdir(), 'graft-fixed-split-'));
    writeFileSync(join(dir, 'train.txt'), `${trainLines.join('\n')}\n`);
    writeFileSync(join(dir, 'test.txt'), `${testLines.join('\n')}\n`);
    await importEventsFile(ctx.db, join(dir, 'train.txt'), { domain: 'fixed', header: false, columns: ['user', 'item', 'weight'] });
    split = { kind: 'file', path: join(dir, 'test.txt'), format: 'tsv' };
    expect(expected.cold).toBeGreaterThan(40);
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('transfer keeps the split as given, scores cold-start test users from their transferred rows as the 0 stratum (baseline: popularity), counts what it left out, and eval gives the same figures', async () => {
    const sourcePrepared = await prepareDomain(ctx.db, 'source', { split: { kind: 'leave-one-out', mode: 'last' }, tokenBuckets: MODEL.tokenBuckets });
    const source = await registerTrainedModel(ctx.db, { domain: 'source', kind: 'PRETRAIN' }, await pretrain(sourcePrepared, { model: MODEL, training: TRAINING, evaluation: EVALUATION }));

    // No --cold-start-share: a fixed split is not rewritten.
    const prepared = await prepareTransfer(ctx.db, source.id, 'fixed', { split, seed: 3 });
    expect(prepared.coldStartCarve).toEqual({ share: 0, seed: 3, users: 0 });
    expect(prepared.target.train.users.length + (prepared.target.validation?.users.length ?? 0)).toBe(expected.trainRows);
    expect(prepared.target.test.users.length).toBe(expected.cold + expected.warm);
    expect(prepared.target.coldStartTestUsers).toBe(expected.cold);
    expect(prepared.target.dropped).toEqual({ header: 1, unknownUser: 1, unknownItem: expected.unknownItem });

    const { report, trained } = await transfer(prepared, { strategy: 'FEATURE_EXTRACTION', replayWeight: 0.5, replayFraction: 1, jointReference: false, training: TRAINING, evaluation: EVALUATION, seed: 11 });
    expect(report.users).toBe(expected.cold + expected.warm);
    expect(report.rows).toBe(expected.cold + expected.warm);
    expect(report.dropped).toEqual({ header: 1, unknownUser: 1, unknownItem: expected.unknownItem });
    expect(report.coldStart).toEqual({ fromTestFile: expected.cold, carve: { share: 0, seed: 3, users: 0 } });
    expect(report.overlap.usersWithoutTargetHistory).toBeGreaterThanOrEqual(expected.cold);
    const coldStratum = report.strata.find((s) => s.label === '0')!;
    expect(coldStratum.users).toBe(expected.cold);
    // Without transfer a product shows these users the most popular items: the baseline's figures there are popularity's.
    expect(coldStratum.baseline['hr@10']).toBe(coldStratum.popularity['hr@10']);
    expect(coldStratum.baseline['ndcg@10']).toBe(coldStratum.popularity['ndcg@10']);

    const record = await registerTrainedModel(ctx.db, { domain: 'fixed', kind: 'TRANSFER', strategy: 'FEATURE_EXTRACTION', parentModelId: source.id, transferReport: report as never, negativeTransfer: report.negativeTransfer }, trained);
    const again = await evaluateStoredModel(ctx.db, record.id, EVALUATION);
    expect(again.metrics.users).toBe(report.users);
    expect(again.metrics.rows).toBe(report.rows);
    expect(again.metrics.dropped).toEqual(report.dropped);
    expect(again.metrics.test['hr@10']).toBeCloseTo(report.metrics['hr@10']!, 3);
    expect(again.metrics.test['ndcg@10']).toBeCloseTo(report.metrics['ndcg@10']!, 3);
    expect(again.metrics.strata.find((s) => s.label === '0')!.users).toBe(expected.cold);
  });

  it('a model of the target alone counts cold-start test users as dropped (it cannot score them) and is evaluated on the rest; with no test set it has no metrics, not zeros', async () => {
    const prepared = await prepareDomain(ctx.db, 'fixed', { split, tokenBuckets: MODEL.tokenBuckets });
    // A pair naming an unknown user and an unknown item counts once, as an unknown user.
    expect(prepared.dropped).toEqual({ header: 1, unknownUser: expected.cold + expected.coldWithUnknownItem + 1, unknownItem: expected.unknownItem - expected.coldWithUnknownItem });
    const trained = await pretrain(prepared, { model: MODEL, training: TRAINING, evaluation: EVALUATION });
    expect(trained.metrics.users).toBe(expected.warm);
    expect(trained.metrics.rows).toBe(expected.warm);
    expect(trained.metrics.dropped).toEqual(prepared.dropped);
    expect(trained.metrics.strata.find((s) => s.label === '0')!.users).toBe(0);
    const record = await registerTrainedModel(ctx.db, { domain: 'fixed', kind: 'PRETRAIN' }, trained);
    const again = await evaluateStoredModel(ctx.db, record.id, EVALUATION);
    expect(again.metrics.users).toBe(expected.warm);
    expect(again.metrics.dropped).toEqual(prepared.dropped);
    expect(again.metrics.test['hr@10']).toBeCloseTo(trained.metrics.test['hr@10']!, 3);

    if (ctx.kind === 'postgres') return; // the rest is storage-independent
    const none = await prepareDomain(ctx.db, 'fixed', { split: { kind: 'none' }, tokenBuckets: MODEL.tokenBuckets });
    const untested = await pretrain(none, { model: MODEL, training: { ...TRAINING, epochs: 1 }, evaluation: EVALUATION });
    expect(untested.metrics.users).toBe(0);
    expect(untested.metrics.test).toEqual({});
    expect(untested.metrics.popularity).toEqual({});
  });
});
