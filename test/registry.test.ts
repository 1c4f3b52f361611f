import { beforeAll, expect, it } from 'vitest';
import {
  activateModel,
  createModel,
  getActiveModel,
  listModels,
  loadEmbeddings,
  loadIdArtifact,
  loadWeights,
  markModelFailed,
  markModelReady,
  retireModel,
  rollbackModel,
  saveEmbeddings,
  saveIdArtifact,
  saveBlob,
  loadBlob,
  saveWeights,
} from '../src/registry/index.js';
import { describeEachStorage } from './support/databases.js';

describeEachStorage('model registry', (ctx) => {
  beforeAll(async () => {
    await ctx.db.db.insertInto('domains').values([
      { name: 'source', description: null, active_model_id: null },
      { name: 'target', description: null, active_model_id: null },
    ]).execute();
  });

  async function readyModel(domain: string, extra: { parentModelId?: string; negativeTransfer?: boolean } = {}) {
    const m = await createModel(ctx.db.db, { domain, kind: extra.parentModelId ? 'TRANSFER' : 'PRETRAIN', strategy: extra.parentModelId ? 'PARTIAL' : null, parentModelId: extra.parentModelId, config: { dim: 8 } });
    await markModelReady(ctx.db.db, m.id, { metrics: { 'hr@10': 0.5 }, negativeTransfer: extra.negativeTransfer });
    return m;
  }

  it('numbers versions per domain and records lineage', async () => {
    const a = await readyModel('source');
    const b = await readyModel('source');
    const t = await readyModel('target', { parentModelId: a.id });
    expect(b.version).toBe(a.version + 1);
    expect(t.version).toBe(1);
    expect(t.parentModelId).toBe(a.id);
    const listed = await listModels(ctx.db.db, { domain: 'target' });
    expect(listed.map((m) => m.id)).toEqual([t.id]);
    expect(listed[0]!.metrics).toEqual({ 'hr@10': 0.5 });
    await expect(listModels(ctx.db.db, { domain: 'nope' })).rejects.toThrow(/domain "nope" does not exist/);
  });

  it('stores weights, id vocabularies and embeddings bit-exactly', async () => {
    const m = await createModel(ctx.db.db, { domain: 'source', kind: 'PRETRAIN', config: {} });
    const table = new Float32Array([0.1, -2.5, 3.25, Math.PI, 1e-8, -0]);
    await saveWeights(ctx.db.db, m.id, [
      { name: 'user/id', kind: 'table', shape: [3, 2], data: table },
      { name: 'user/dense1/kernel', kind: 'dense', shape: [2, 1], data: new Float32Array([7, 8]) },
    ]);
    const loaded = await loadWeights(ctx.db.db, m.id);
    expect(loaded.map((w) => w.name)).toEqual(['user/id', 'user/dense1/kernel']);
    expect(Array.from(loaded[0]!.data)).toEqual(Array.from(table));
    expect(loaded[0]!.shape).toEqual([3, 2]);

    await saveIdArtifact(ctx.db.db, m.id, 'vocab:items', new Int32Array([5, 9, 2]));
    expect(Array.from(await loadIdArtifact(ctx.db.db, m.id, 'vocab:items'))).toEqual([5, 9, 2]);

    const n = 5000; // spans two insert batches
    const ids = Int32Array.from({ length: n }, (_, i) => i + 1);
    const vectors = Float32Array.from({ length: n * 3 }, (_, i) => i / 7);
    await saveEmbeddings(ctx.db.db, m.id, 'ITEM', ids, vectors, 3);
    const back = await loadEmbeddings(ctx.db.db, m.id, 'ITEM');
    expect(back.dim).toBe(3);
    expect(back.ids.length).toBe(n);
    expect(Array.from(back.vectors.subarray(4999 * 3))).toEqual(Array.from(vectors.subarray(4999 * 3)));
    const some = await loadEmbeddings(ctx.db.db, m.id, 'ITEM', [2, 4000]);
    expect(Array.from(some.ids)).toEqual([2, 4000]);
    expect(some.vectors[3]).toBeCloseTo(vectors[3999 * 3]!, 6);
  });

  it('reads artifacts in pieces, bit-exactly (one string per value is limited to ~512M characters, i.e. 256 MB of bytea)', async () => {
    const m = await createModel(ctx.db.db, { domain: 'source', kind: 'PRETRAIN', config: {} });
    const bytes = new Uint8Array(1_000_003).map((_, i) => (i * 7919) % 251);
    await saveBlob(ctx.db.db, m.id, 'index:test', 'index', bytes);
    for (const chunkBytes of [1_000_003, 65_536, 999_999]) {
      expect(Buffer.from((await loadBlob(ctx.db.db, m.id, 'index:test', { chunkBytes }))!).equals(Buffer.from(bytes))).toBe(true);
    }
    await saveBlob(ctx.db.db, m.id, 'index:empty', 'index', new Uint8Array(0));
    expect((await loadBlob(ctx.db.db, m.id, 'index:empty'))!.byteLength).toBe(0);
    expect(await loadBlob(ctx.db.db, m.id, 'index:missing')).toBeNull();
  });

  it('activates atomically, rolls back through history, and keeps the previous model when activation fails', async () => {
    const db = ctx.db.db;
    const first = await readyModel('target');
    const second = await readyModel('target');
    await activateModel(db, first.id);
    expect((await getActiveModel(db, 'target'))!.id).toBe(first.id);
    const result = await activateModel(db, second.id);
    expect(result.previousModelId).toBe(first.id);
    expect((await getActiveModel(db, 'target'))!.id).toBe(second.id);

    // A failure during activation (e.g. the serving index cannot be built) changes nothing.
    const third = await readyModel('target');
    await expect(
      activateModel(db, third.id, { beforeCommit: async () => { throw new Error('index build failed'); } }),
    ).rejects.toThrow('index build failed');
    expect((await getActiveModel(db, 'target'))!.id).toBe(second.id);
    const row = await db.selectFrom('domains').select('active_model_id').where('name', '=', 'target').executeTakeFirstOrThrow();
    expect(row.active_model_id).toBe(second.id);

    const back = await rollbackModel(db, 'target');
    expect(back.model.id).toBe(first.id);
    expect((await listModels(db, { domain: 'target' })).find((m) => m.id === second.id)!.status).toBe('RETIRED');
    await expect(rollbackModel(db, 'target')).rejects.toThrow(/no earlier model/);
  });

  it('refuses negative transfer without force, failed models always, and retiring the active model', async () => {
    const db = ctx.db.db;
    const source = await readyModel('source');
    const negative = await readyModel('target', { parentModelId: source.id, negativeTransfer: true });
    await expect(activateModel(db, negative.id)).rejects.toThrow(/negative transfer.*--force/);
    const forced = await activateModel(db, negative.id, { force: true });
    expect(forced.model.status).toBe('ACTIVE');
    await expect(retireModel(db, negative.id)).rejects.toThrow(/is serving domain "target"/);

    const failed = await createModel(db, { domain: 'target', kind: 'PRETRAIN', config: {} });
    await markModelFailed(db, failed.id, 'out of memory');
    await expect(activateModel(db, failed.id)).rejects.toThrow(/is FAILED/);
    await expect(activateModel(db, 'not-a-uuid')).rejects.toThrow(/is not a model id/);
  });
});
