import { beforeAll, describe, expect, it } from 'vitest';
import { seedSynthetic } from '../seeds/seed-database.js';
import { createRng } from '../src/dataset/random.js';
import { isGraftError } from '../src/errors.js';
import { clearEmbeddingMatrices, clearProjectionCache, compareModels, getEmbedding, nearestNeighbours, projectEmbeddings, type EntityKind } from '../src/explorer/index.js';
import { ingestEvents, ingestItems, type EventRecord } from '../src/logs/index.js';
import type { NamedWeight } from '../src/model/named-weight.js';
import { createModel, markModelReady, saveEmbeddings, saveIdArtifact, saveWeights } from '../src/registry/index.js';
import { DEFAULT_EVALUATION, DEFAULT_MODEL, DEFAULT_TRAINING } from '../src/workflows/model-settings.js';
import { prepareTransfer } from '../src/workflows/prepare-transfer.js';
import { prepareDomain } from '../src/workflows/prepared-domain.js';
import { pretrain } from '../src/workflows/pretrain.workflow.js';
import { registerTrainedModel } from '../src/workflows/register-trained-model.js';
import { transfer } from '../src/workflows/transfer.workflow.js';
import { describeEachStorage } from './support/databases.js';

const DIM = 16;
const ITEMS = 40;
const USERS = 60;
const TAGS = ['red', 'green', 'blue', 'black'];
const itemId = (i: number) => `i${String(i).padStart(2, '0')}`;
const userId = (u: number) => `u${String(u).padStart(2, '0')}`;

/** Item vectors in 4 clusters (cluster = i % 4, the item's first tag), full rank. */
function itemVectors(seed: number): Float32Array {
  const rng = createRng(seed);
  const centres = Array.from({ length: 4 }, () => Array.from({ length: DIM }, () => rng.normal()));
  return Float32Array.from({ length: ITEMS * DIM }, (_, x) => centres[Math.floor(x / DIM) % 4][x % DIM] + 0.4 * rng.normal());
}

/** User vectors of rank 2 plus an offset: all their variance lies in one plane of R^16. */
function rankTwoUserVectors(seed: number): Float32Array {
  const rng = createRng(seed);
  const [b1, b2, offset] = [0, 1, 2].map(() => Array.from({ length: DIM }, () => rng.normal()));
  const out = new Float32Array(USERS * DIM);
  for (let u = 0; u < USERS; u++) {
    const [p, q] = [3 * rng.normal(), rng.normal()];
    for (let j = 0; j < DIM; j++) out[u * DIM + j] = p * b1[j] + q * b2[j] + offset[j];
  }
  return out;
}

function perturbed(vectors: Float32Array, scale: number, seed: number): Float32Array {
  const rng = createRng(seed);
  return vectors.map((x) => x + scale * rng.normal());
}

function randomWeight(name: string, kind: NamedWeight['kind'], shape: number[], rng: ReturnType<typeof createRng>): NamedWeight {
  return { name, kind, shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal()) };
}

/** Brute-force cosine neighbours in float64: the reference the explorer's search must agree with. */
function bruteForceNeighbours(vectors: Float32Array, row: number, first: number): Array<{ row: number; score: number }> {
  const n = vectors.length / DIM;
  const norm = (r: number) => Math.sqrt(Array.from({ length: DIM }, (_, j) => vectors[r * DIM + j] ** 2).reduce((a, b) => a + b));
  const scored = [];
  for (let other = 0; other < n; other++) {
    if (other === row) continue;
    let dot = 0;
    for (let j = 0; j < DIM; j++) dot += vectors[row * DIM + j] * vectors[other * DIM + j];
    scored.push({ row: other, score: dot / (norm(row) * norm(other)) });
  }
  return scored.sort((a, b) => b.score - a.score).slice(0, first);
}

describeEachStorage('embedding explorer', (ctx) => {
  const items = itemVectors(1);
  const users = rankTwoUserVectors(2);
  let userDbIds: Int32Array;
  let itemDbIds: Int32Array;
  let base: string; // a hand-made pretrained model
  let tuned: string; // a hand-made "fine-tuned" child: same tables on shared rows, changed dense layers

  beforeAll(async () => {
    clearEmbeddingMatrices();
    clearProjectionCache();
    await ingestItems(ctx.db, 'shop', [
      Array.from({ length: ITEMS }, (_, i) => ({ item: itemId(i), title: i % 2 === 0 ? `Item ${i}` : null, tags: i % 5 === 0 ? [TAGS[i % 4], 'sale'] : [TAGS[i % 4]] })),
    ]);
    await ingestItems(ctx.db, 'shop', [[{ item: 'no-embedding', tags: ['red'] }]]);
    // Every user views i00 (the most popular item) and two items of their own cluster; users
    // u00..u04 also shop in "garden", more than in "shop".
    const events: EventRecord[] = [];
    const time = (k: number) => new Date(Date.UTC(2026, 0, 1) + k * 1000);
    for (let u = 0; u < USERS + 10; u++) {
      events.push({ user: userId(u), item: itemId(0), weight: 1, time: time(events.length), kind: 'view' });
      for (let e = 1; e <= 2; e++) events.push({ user: userId(u), item: itemId((u % 4) + 4 * ((u + e) % 10)), weight: 1, time: time(events.length), kind: 'view' });
    }
    // Shoppers outside every model make i01, i02, i03 the next most popular items, in that order.
    for (const [item, shoppers] of [[1, 30], [2, 25], [3, 20]]) {
      for (let x = 0; x < shoppers; x++) events.push({ user: `x${x}`, item: itemId(item), weight: 1, time: time(events.length), kind: 'view' });
    }
    await ingestEvents(ctx.db, 'shop', [events]);
    const garden: EventRecord[] = [];
    for (let u = 0; u < 5; u++) for (let e = 0; e < 5; e++) garden.push({ user: userId(u), item: `g${e}`, weight: 1, time: time(e), kind: 'view' });
    await ingestEvents(ctx.db, 'garden', [garden]);

    const userRows = await ctx.db.db.selectFrom('users').select(['id', 'external_id']).execute();
    const userIds = new Map(userRows.map((r) => [r.external_id, r.id]));
    userDbIds = Int32Array.from({ length: USERS }, (_, u) => userIds.get(userId(u))!);
    const itemRows = await ctx.db.db.selectFrom('items').innerJoin('domains', 'domains.id', 'items.domain_id').select(['items.id', 'items.external_id']).where('domains.name', '=', 'shop').execute();
    const itemIds = new Map(itemRows.map((r) => [r.external_id, r.id]));
    itemDbIds = Int32Array.from({ length: ITEMS }, (_, i) => itemIds.get(itemId(i))!);
    const newUserDbIds = Int32Array.from({ length: 10 }, (_, u) => userIds.get(userId(USERS + u))!);

    const rng = createRng(3);
    const weights: NamedWeight[] = [
      randomWeight('user.embedding', 'table', [USERS, 8], rng),
      randomWeight('item.embedding', 'table', [ITEMS, 8], rng),
      randomWeight('token.embedding', 'table', [32, 8], rng),
      randomWeight('user.dense.0.kernel', 'dense', [8, DIM], rng),
      randomWeight('user.dense.0.bias', 'dense', [DIM], rng),
      randomWeight('item.dense.0.kernel', 'dense', [8, DIM], rng),
      randomWeight('item.dense.0.bias', 'dense', [DIM], rng),
    ];
    const register = async (
      info: { kind: 'PRETRAIN' | 'TRANSFER'; parent?: string; report?: Record<string, unknown> },
      model: { weights: NamedWeight[]; userIds: Int32Array; itemIds: Int32Array; userVectors: Float32Array; itemVectors: Float32Array },
    ) => {
      const record = await createModel(ctx.db.db, { domain: 'shop', kind: info.kind, strategy: info.parent ? 'PARTIAL' : null, parentModelId: info.parent ?? null, config: {} });
      await saveWeights(ctx.db.db, record.id, model.weights);
      await saveIdArtifact(ctx.db.db, record.id, 'vocab:users', model.userIds);
      await saveIdArtifact(ctx.db.db, record.id, 'vocab:items', model.itemIds);
      await saveEmbeddings(ctx.db.db, record.id, 'USER', model.userIds, model.userVectors, DIM);
      await saveEmbeddings(ctx.db.db, record.id, 'ITEM', model.itemIds, model.itemVectors, DIM);
      await markModelReady(ctx.db.db, record.id, { metrics: {}, transferReport: info.report ?? null });
      return record.id;
    };
    base = await register({ kind: 'PRETRAIN' }, { weights, userIds: userDbIds, itemIds: itemDbIds, userVectors: users, itemVectors: items });

    // The child keeps users u10..u59 (rows in reverse order) and adds u60..u69: its tables
    // must be matched to the parent's through the id artifacts, not by row number.
    const childUsers = Int32Array.from([...Array.from(userDbIds.subarray(10)).reverse(), ...newUserDbIds]);
    const parentUserTable = weights[0];
    const childUserTable = new Float32Array(childUsers.length * 8);
    childUsers.forEach((id, row) => {
      const parentRow = userDbIds.indexOf(id);
      if (parentRow >= 0) childUserTable.set(parentUserTable.data.subarray(parentRow * 8, parentRow * 8 + 8), row * 8);
      else for (let j = 0; j < 8; j++) childUserTable[row * 8 + j] = rng.normal();
    });
    const childWeights = weights.map((w) =>
      w.name === 'user.embedding' ? { ...w, shape: [childUsers.length, 8], data: childUserTable } : w.kind === 'dense' ? { ...w, data: perturbed(w.data, 0.1, 4) } : w,
    );
    const childUserVectors = new Float32Array(childUsers.length * DIM);
    const movedUsers = perturbed(users, 1.5, 5);
    childUsers.forEach((id, row) => {
      const parentRow = userDbIds.indexOf(id);
      if (parentRow >= 0) childUserVectors.set(movedUsers.subarray(parentRow * DIM, (parentRow + 1) * DIM), row * DIM);
      else for (let j = 0; j < DIM; j++) childUserVectors[row * DIM + j] = rng.normal();
    });
    const report = {
      strategy: 'PARTIAL',
      gain: { 'hr@10': { value: 0.08, ci95: [0.03, 0.13], relative: 0.4 } },
      overlap: { usersInBoth: 50, targetOnlyUsers: 10, usersWithoutTargetHistory: 0 },
      strata: [{ label: '1-2', users: 60, transferred: { 'hr@10': 0.3 }, baseline: { 'hr@10': 0.22 }, popularity: { 'hr@10': 0.1 } }],
    };
    tuned = await register(
      { kind: 'TRANSFER', parent: base, report },
      { weights: childWeights, userIds: childUsers, itemIds: itemDbIds, userVectors: childUserVectors, itemVectors: perturbed(items, 0.3, 6) },
    );
  });

  describe('getEmbedding', () => {
    it('returns the stored vector and its norm', async () => {
      const got = await getEmbedding(ctx.db.db, base, 'ITEM', itemId(7));
      expect(got).toMatchObject({ modelId: base, kind: 'ITEM', id: itemId(7) });
      expect(got.vector).toHaveLength(DIM);
      const expected = Array.from(items.subarray(7 * DIM, 8 * DIM));
      got.vector.forEach((x, j) => expect(x).toBeCloseTo(expected[j], 6));
      expect(got.norm).toBeCloseTo(Math.hypot(...expected), 5);
      const user = await getEmbedding(ctx.db.db, base, 'USER', userId(3));
      expect(user.vector[0]).toBeCloseTo(users[3 * DIM], 5);
    });

    it('says NOT_FOUND naming the model, kind and id, whether the entity is unknown or only missing from the model, and valid ids', async () => {
      const unknown = await getEmbedding(ctx.db.db, base, 'USER', 'nobody').catch((e: unknown) => e);
      expect(isGraftError(unknown, 'NOT_FOUND')).toBe(true);
      expect((unknown as Error).message).toMatch(new RegExp(`no user "nobody".*model "${base}".*USER.*include "u00", "u01", "u02"`));
      const missing = await getEmbedding(ctx.db.db, base, 'ITEM', 'no-embedding').catch((e: unknown) => e);
      expect((missing as Error).message).toMatch(/item "no-embedding" exists but .* has no ITEM embedding for it.*include "i00"/);
      const notInChild = await getEmbedding(ctx.db.db, tuned, 'USER', userId(0)).catch((e: unknown) => e);
      expect((notInChild as Error).message).toMatch(/user "u00" exists but/);
      await expect(getEmbedding(ctx.db.db, base, 'PLACE' as EntityKind, 'x')).rejects.toThrow(/"PLACE" is not USER or ITEM/);
      await expect(getEmbedding(ctx.db.db, '00000000-0000-4000-8000-000000000000', 'USER', 'u00')).rejects.toThrow(/does not exist/);
    });
  });

  describe('nearestNeighbours', () => {
    it('agrees with an exact brute-force cosine search and excludes the entity itself', async () => {
      for (const row of [0, 13, 38]) {
        const got = await nearestNeighbours(ctx.db.db, base, 'ITEM', itemId(row), 10);
        const expected = bruteForceNeighbours(items, row, 10);
        expect(got.map((n) => n.id)).toEqual(expected.map((e) => itemId(e.row)));
        got.forEach((n, i) => {
          expect(n.score).toBeCloseTo(expected[i].score, 5);
          expect(n.rank).toBe(i + 1);
          expect(n.label).toBe(expected[i].row % 2 === 0 ? `Item ${expected[i].row}` : null);
        });
        expect(got.some((n) => n.id === itemId(row))).toBe(false);
      }
      const usersNear = await nearestNeighbours(ctx.db.db, base, 'USER', userId(5), 59);
      expect(usersNear).toHaveLength(59);
      expect(usersNear.map((n) => n.score)).toEqual(bruteForceNeighbours(users, 5, 59).map((e) => expect.closeTo(e.score, 5)));
    });

    it('refuses first outside 1..100 and unknown ids', async () => {
      await expect(nearestNeighbours(ctx.db.db, base, 'ITEM', itemId(0), 0)).rejects.toThrow(/first = 0 is out of range; ask for 1 to 100/);
      await expect(nearestNeighbours(ctx.db.db, base, 'ITEM', itemId(0), 101)).rejects.toThrow(/first = 101/);
      await expect(nearestNeighbours(ctx.db.db, base, 'ITEM', 'zzz', 5)).rejects.toThrow(/domain "shop" has no item "zzz"/);
    });
  });

  describe('projectEmbeddings', () => {
    it('PCA of the planted rank-2 user set puts all its variance on the two axes', async () => {
      const projection = await projectEmbeddings(ctx.db.db, { modelId: base, kind: 'USER', method: 'PCA', sample: USERS });
      expect(projection.points).toHaveLength(USERS);
      const [first, second] = projection.explainedVariance!;
      expect(first + second).toBeGreaterThan(0.999);
      expect(first).toBeGreaterThan(second);
    });

    it('draws `sample` distinct points with labels, colours each mode, and caches the second call', async () => {
      const opts = { modelId: base, kind: 'ITEM' as const, method: 'PCA' as const, sample: 25, seed: 4 };
      const byTag = await projectEmbeddings(ctx.db.db, { ...opts, colorBy: 'TAG' });
      expect(byTag.cached).toBe(false);
      expect(byTag.points).toHaveLength(25);
      expect(new Set(byTag.points.map((p) => p.id)).size).toBe(25);
      for (const p of byTag.points) {
        const i = Number(p.id.slice(1));
        expect(p.label).toBe(i % 2 === 0 ? `Item ${i}` : p.id);
        // The item's most common tag: its colour tag, never the rarer "sale".
        expect(p.color).toBe(TAGS[i % 4]);
        expect(Number.isFinite(p.x) && Number.isFinite(p.y)).toBe(true);
      }
      const again = await projectEmbeddings(ctx.db.db, { ...opts, colorBy: 'TAG' });
      expect(again.cached).toBe(true);
      expect(again.points).toEqual(byTag.points);

      const byDomain = await projectEmbeddings(ctx.db.db, { ...opts, colorBy: 'DOMAIN' });
      expect(byDomain.cached).toBe(true); // same layout, new colours
      expect(byDomain.points.map((p) => [p.x, p.y])).toEqual(byTag.points.map((p) => [p.x, p.y]));
      expect(new Set(byDomain.points.map((p) => p.color))).toEqual(new Set(['shop']));

      const all = await projectEmbeddings(ctx.db.db, { ...opts, sample: ITEMS, colorBy: 'POPULARITY' });
      const colour = new Map(all.points.map((p) => [p.id, p.color]));
      // 40 items: the top 1% is the single most viewed item, the top 10% the next three.
      expect(colour.get(itemId(0))).toBe('top 1%'); // viewed by every user
      for (let i = 1; i < ITEMS; i++) expect(colour.get(itemId(i))).toBe(i <= 3 ? 'top 10%' : 'rest');

      const userDomains = await projectEmbeddings(ctx.db.db, { modelId: base, kind: 'USER', method: 'PCA', sample: USERS, colorBy: 'DOMAIN' });
      for (const p of userDomains.points) expect(p.color).toBe(Number(p.id.slice(1)) < 5 ? 'garden' : 'shop');
      const userTags = await projectEmbeddings(ctx.db.db, { modelId: base, kind: 'USER', method: 'PCA', sample: USERS, colorBy: 'TAG' });
      // Each user's own-cluster items carry tag u % 4 twice, i00 carries "red" and "sale" once.
      for (const p of userTags.points) expect(p.color).toBe(TAGS[Number(p.id.slice(1)) % 4]);
    });

    it('UMAP is deterministic for a seed, separates the planted clusters, and is reused from the stored artifact by a fresh process', async () => {
      const opts = { modelId: base, kind: 'ITEM' as const, method: 'UMAP' as const, sample: ITEMS, seed: 7, colorBy: 'TAG' as const };
      const first = await projectEmbeddings(ctx.db.db, opts);
      expect(first.cached).toBe(false);
      expect(first.points).toHaveLength(ITEMS);
      expect(first.explainedVariance).toBeUndefined();
      // Nearest point in the layout shares the planted cluster (= colour) for nearly every item.
      let same = 0;
      for (const p of first.points) {
        const nearest = first.points.filter((q) => q !== p).sort((q, r) => (q.x - p.x) ** 2 + (q.y - p.y) ** 2 - ((r.x - p.x) ** 2 + (r.y - p.y) ** 2))[0];
        if (nearest.color === p.color) same++;
      }
      expect(same / ITEMS).toBeGreaterThan(0.9);

      // A new process has empty caches: the layout comes from the model's artifact.
      clearEmbeddingMatrices();
      clearProjectionCache();
      const reloaded = await projectEmbeddings(ctx.db.db, opts);
      expect(reloaded.cached).toBe(true);
      expect(reloaded.points).toEqual(first.points);
      const stored = await ctx.db.db.selectFrom('model_artifacts').select('name').where('model_id', '=', base).where('name', 'like', 'projection:%').execute();
      expect(stored.map((r) => r.name)).toContain('projection:ITEM:UMAP:40:7');

      // Computed again without any cache or artifact: identical for the same seed.
      await ctx.db.db.deleteFrom('model_artifacts').where('model_id', '=', base).where('name', '=', 'projection:ITEM:UMAP:40:7').execute();
      clearProjectionCache();
      const recomputed = await projectEmbeddings(ctx.db.db, opts);
      expect(recomputed.cached).toBe(false);
      expect(recomputed.points).toEqual(first.points);
      const otherSeed = await projectEmbeddings(ctx.db.db, { ...opts, seed: 8 });
      expect(otherSeed.points.map((p) => p.x)).not.toEqual(first.points.map((p) => p.x));
    });

    it('refuses a sample outside 1..20000, an unknown method or colour mode', async () => {
      const opts = { modelId: base, kind: 'ITEM' as const, method: 'PCA' as const };
      await expect(projectEmbeddings(ctx.db.db, { ...opts, sample: 20_001 })).rejects.toThrow(/sample = 20001 is out of range; draw 1 to 20000/);
      await expect(projectEmbeddings(ctx.db.db, { ...opts, method: 'TSNE' as 'PCA' })).rejects.toThrow(/"TSNE" is not PCA or UMAP/);
      await expect(projectEmbeddings(ctx.db.db, { ...opts, colorBy: 'SIZE' as 'TAG' })).rejects.toThrow(/colorBy "SIZE"/);
    });
  });

  describe('compareModels', () => {
    it('compares a model with itself: overlap 1, cosine 1, no change in any layer', async () => {
      const same = await compareModels(ctx.db.db, base, base, { k: 5 });
      expect(same.neighbourOverlap).toEqual({ users: 1, items: 1 });
      expect(same.meanUserCosine).toBeCloseTo(1, 6);
      expect(same.sharedUsers).toBe(USERS);
      expect(same.sharedItems).toBe(ITEMS);
      expect(same.layers.map((l) => l.name)).toEqual([
        'user.embedding',
        'item.embedding',
        'token.embedding',
        'user.dense.0.kernel',
        'user.dense.0.bias',
        'item.dense.0.kernel',
        'item.dense.0.bias',
      ]);
      for (const layer of same.layers) expect(layer).toMatchObject({ relativeChange: 0, comparable: true });
      expect(same.transferReport).toBeNull();
    });

    it('compares a fine-tuned child with its parent: tables unchanged on shared rows, dense layers moved, neighbours partly kept, the transfer report', async () => {
      const diff = await compareModels(ctx.db.db, base, tuned, { k: 5 });
      expect(diff.sharedUsers).toBe(50);
      expect(diff.sharedItems).toBe(ITEMS);
      expect(diff.neighbourOverlap.users!).toBeLessThan(1);
      expect(diff.neighbourOverlap.users!).toBeGreaterThan(0);
      expect(diff.neighbourOverlap.items!).toBeLessThan(1);
      expect(diff.meanUserCosine!).toBeLessThan(0.999);
      const layer = new Map(diff.layers.map((l) => [l.name, l]));
      expect(layer.get('user.embedding')).toMatchObject({ relativeChange: 0, comparable: true, sharedRows: 50 });
      expect(layer.get('item.embedding')).toMatchObject({ relativeChange: 0, comparable: true, sharedRows: ITEMS });
      expect(layer.get('token.embedding')).toMatchObject({ relativeChange: 0, comparable: true, sharedRows: null });
      for (const name of ['user.dense.0.kernel', 'user.dense.0.bias', 'item.dense.0.kernel', 'item.dense.0.bias']) {
        expect(layer.get(name)!.relativeChange!).toBeGreaterThan(0.01);
        expect(layer.get(name)!.relativeChange!).toBeLessThan(0.5);
      }
      expect(diff.transferReport).toMatchObject({ modelId: tuned, strategy: 'PARTIAL', negativeTransfer: false });
      expect(diff.transferReport!.gain['hr@10'].ci95).toEqual([0.03, 0.13]);
      expect(diff.transferReport!.overlap.usersInBoth).toBe(50);
      expect(diff.transferReport!.strata[0].label).toBe('1-2');
      // Argument order does not hide the child's report.
      expect((await compareModels(ctx.db.db, tuned, base, { k: 5 })).transferReport?.modelId).toBe(tuned);
    });

    it('refuses a k outside 1..100', async () => {
      await expect(compareModels(ctx.db.db, base, tuned, { k: 0 })).rejects.toThrow(/k = 0 is out of range/);
    });
  });
});

describeEachStorage('embedding explorer on a real transfer', (ctx) => {
  it('PARTIAL transfer (layer 0 frozen) vs its source: frozen tables exactly unchanged, MLP layers moved, user neighbours partly kept', async () => {
    await seedSynthetic(ctx.db, { users: 240, seed: 31, sourceItems: 150, targetItems: 90 });
    const model = { ...DEFAULT_MODEL, dim: 16, layers: [32, 16], seed: 5 };
    const training = { ...DEFAULT_TRAINING, epochs: 2, patience: 0 };
    const evaluation = { ...DEFAULT_EVALUATION, negatives: 49 };
    const split = { kind: 'leave-one-out', mode: 'last' } as const;
    const prepared = await prepareDomain(ctx.db, 'source', { split, tokenBuckets: model.tokenBuckets });
    const source = await registerTrainedModel(ctx.db, { domain: 'source', kind: 'PRETRAIN' }, await pretrain(prepared, { model, training, evaluation }));
    const target = await prepareTransfer(ctx.db, source.id, 'target', { split, coldStartShare: 0.1, seed: 3 });
    // The source's run chose its popularity term on its own carve; a transfer does not carry it over.
    expect((source.config as { popularityTerm?: unknown }).popularityTerm).toBeDefined();
    expect(target.source.config.popularityWeight).toBe(0);
    const result = await transfer(target, { strategy: 'PARTIAL', freezeLayers: 1, replayWeight: 0.5, replayFraction: 1, jointReference: false, training, evaluation, seed: 11 });
    const transferred = await registerTrainedModel(
      ctx.db,
      { domain: 'target', kind: 'TRANSFER', strategy: 'PARTIAL', parentModelId: source.id, transferReport: result.report as never, negativeTransfer: result.report.negativeTransfer },
      result.trained,
    );

    const diff = await compareModels(ctx.db.db, source.id, transferred.id, { k: 10, sample: 200 });
    expect(diff.sharedUsers).toBeGreaterThan(100);
    expect(diff.sharedItems).toBe(0); // target items are not source items
    expect(diff.neighbourOverlap.items).toBeNull();
    expect(diff.neighbourOverlap.users!).toBeGreaterThan(0);
    expect(diff.neighbourOverlap.users!).toBeLessThan(1);
    // The popularity term the source's run chose on its carve (counted, not trained) is not carried to the transfer: no counterpart.
    const term = diff.layers.find((l) => l.name === 'item.bias');
    if (term) expect(term.comparable).toBe(false);
    for (const layer of diff.layers.filter((l) => l !== term)) {
      expect(layer.comparable).toBe(true);
      if (layer.kind === 'table') expect(layer).toMatchObject({ relativeChange: 0 }); // layer 0 frozen: pretrained rows and token table
      else expect(layer.relativeChange!).toBeGreaterThan(0);
    }
    expect(diff.layers.find((l) => l.name === 'item.embedding')!.sharedRows).toBe(150); // the source items kept for replay
    expect(diff.transferReport).toMatchObject({ modelId: transferred.id, strategy: 'PARTIAL' });
    expect(diff.transferReport!.gain['hr@10'].ci95).toHaveLength(2);
    expect(diff.transferReport!.overlap.usersInBoth).toBeGreaterThan(0);
    expect(diff.transferReport!.strata.length).toBeGreaterThan(0);
  });
});
