import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../model/backend.js';
import { TwoTowerModel } from '../model/two-tower.model.js';
import { objectiveNamed } from '../training/objectives/index.js';
import { configForObjective } from '../workflows/model-settings.js';
import { alignDomains } from './alignment.js';
import { graftModel } from './graft-model.js';
import { createStrategy } from './strategies.js';

/*
 * An implicit-ALS source (ID rows alone) grafted under hybrid towers: its rows become layer 0,
 * a fresh top above them, which PARTIAL(1) trains on the target with the pretrained rows frozen.
 */
describe('graftModel: an ID-rows source under towers with a fresh top', () => {
  const DIM = 8;
  const alignment = alignDomains(
    { userDbIds: Int32Array.from({ length: 30 }, (_, i) => 1 + i), itemDbIds: Int32Array.from({ length: 20 }, (_, i) => 101 + i) },
    { userDbIds: Int32Array.from({ length: 20 }, (_, i) => 21 + i), itemDbIds: Int32Array.from({ length: 12 }, (_, i) => 201 + i) },
  );
  let source: { config: TwoTowerModel['config']; weights: ReturnType<TwoTowerModel['exportWeights']> };

  beforeAll(async () => {
    await initBackend({ prefer: 'cpu' });
    const als = TwoTowerModel.create({ users: 30, items: 20, dim: DIM, layers: [], objective: 'implicit-als', seed: 3 });
    const users = Int32Array.from({ length: 200 }, (_, i) => i % 30);
    const items = Int32Array.from({ length: 200 }, (_, i) => (i * 7 + (i % 30)) % 20);
    await objectiveNamed('implicit-als').fit(als, { users, items }, { epochs: 3, batchSize: 64, learningRate: 0, seed: 1, threads: 1 });
    source = { config: als.config, weights: als.exportWeights() };
    als.dispose();
  });

  it('copies the source rows to layer 0 and starts the residual top at zero, so the towers start exactly at the ALS rows', () => {
    const config = configForObjective(source.config, 'hybrid');
    const model = graftModel({ config, weights: source.weights }, alignment, undefined, 5);
    try {
      expect(model.config.objective).toBe('hybrid');
      expect(model.tower('item').layerCount).toBe(3);
      const sourceItems = source.weights.find((w) => w.name === 'item.embedding')!.data;
      const vectors = model.embedItems();
      // Target-appended source items (aligned rows 12..31 = source rows 0..19) score as the ALS rows did.
      for (let r = 12; r < 32; r++) {
        const from = alignment.itemSourceRow[r]!;
        expect(Array.from(vectors.subarray(r * DIM, (r + 1) * DIM))).toEqual(Array.from(sourceItems.subarray(from * DIM, (from + 1) * DIM)));
      }
    } finally {
      model.dispose();
    }
  });

  it('PARTIAL(1) keeps the pretrained rows bit-identical and trains the new rows and the fresh top on the target', async () => {
    const config = configForObjective(source.config, 'hybrid');
    const model = graftModel({ config, weights: source.weights }, alignment, undefined, 5);
    try {
      createStrategy('PARTIAL', { freezeLayers: 1 }).apply(model, alignment);
      const before = model.exportWeights();
      const users = Int32Array.from({ length: 120 }, (_, i) => i % 20);
      const items = Int32Array.from({ length: 120 }, (_, i) => (i * 5 + (i % 7)) % 12);
      model.setItemFrequencies(new Float32Array(model.items).fill(1));
      await objectiveNamed('hybrid').fit(model, { users, items }, { epochs: 2, batchSize: 32, learningRate: 0.05, seed: 1, threads: 1 });
      const after = new Map(model.exportWeights().map((w) => [w.name, w.data]));
      const rowsOf = (name: string, rows: number[]) => rows.flatMap((r) => Array.from(after.get(name)!.subarray(r * DIM, (r + 1) * DIM)));
      const beforeRows = (name: string, rows: number[]) => rows.flatMap((r) => Array.from(before.find((w) => w.name === name)!.data.subarray(r * DIM, (r + 1) * DIM)));
      const pretrainedItems = Array.from({ length: 20 }, (_, i) => 12 + i);
      expect(rowsOf('item.embedding', pretrainedItems)).toEqual(beforeRows('item.embedding', pretrainedItems));
      // New target items were solved, and the top moved off zero.
      expect(rowsOf('item.embedding', [0, 1, 2])).not.toEqual(beforeRows('item.embedding', [0, 1, 2]));
      const lastKernel = after.get('item.dense.1.kernel')!;
      expect(lastKernel.some((v) => v !== 0)).toBe(true);
    } finally {
      model.dispose();
    }
  });
});
