import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/auth/index.js';
import { createRng } from '../../src/dataset/random.js';
import { clearEmbeddingMatrices, clearProjectionCache } from '../../src/explorer/index.js';
import { startGraftServer, type GraftServer } from '../../src/graphql/server/http-server.js';
import { enqueueJob } from '../../src/jobs/index.js';
import { appendJobEvents } from '../../src/jobs/job-repository.js';
import { ingestEvents, ingestItems, type EventRecord } from '../../src/logs/index.js';
import type { NamedWeight } from '../../src/model/named-weight.js';
import { createModel, markModelReady, saveEmbeddings, saveIdArtifact, saveWeights } from '../../src/registry/index.js';
import { freshDatabase, STORAGE_KINDS, type TestDatabase } from '../support/databases.js';
import { codes, gql } from './server-fixture.js';

const DIM = 12;
const ITEMS = 48;
const USERS = 80;
const TAGS = ['red', 'green', 'blue'];
const itemId = (i: number) => `p${String(i).padStart(2, '0')}`;
const userId = (u: number) => `c${String(u).padStart(2, '0')}`;

/** Item vectors in 3 clusters (cluster = i % 3, also the item's tag), full rank. */
function clusteredItems(): Float32Array {
  const rng = createRng(11);
  const centres = Array.from({ length: 3 }, () => Array.from({ length: DIM }, () => rng.normal()));
  return Float32Array.from({ length: ITEMS * DIM }, (_, x) => centres[Math.floor(x / DIM) % 3]![x % DIM]! + 0.5 * rng.normal());
}

/** Planted low rank: users = offset + 4·a·b1 + b·b2 with a, b ~ N(0, 1), so all variance lies in span(b1, b2), 16:1. */
function rankTwoUsers(): Float32Array {
  const rng = createRng(12);
  const [b1, b2, offset] = [0, 1, 2].map(() => Array.from({ length: DIM }, () => rng.normal()));
  const out = new Float32Array(USERS * DIM);
  for (let u = 0; u < USERS; u++) {
    const [a, b] = [4 * rng.normal(), rng.normal()];
    for (let j = 0; j < DIM; j++) out[u * DIM + j] = a * b1![j]! + b * b2![j]! + offset![j]!;
  }
  return out;
}

/** Exact cosine neighbours in float64, itself excluded: the reference for the API's answer. */
function exactNeighbours(vectors: Float32Array, row: number, first: number): Array<{ row: number; score: number }> {
  const n = vectors.length / DIM;
  const norm = (r: number) => Math.hypot(...vectors.subarray(r * DIM, (r + 1) * DIM));
  const scored: Array<{ row: number; score: number }> = [];
  for (let other = 0; other < n; other++) {
    if (other === row) continue;
    let dot = 0;
    for (let j = 0; j < DIM; j++) dot += vectors[row * DIM + j]! * vectors[other * DIM + j]!;
    scored.push({ row: other, score: dot / (norm(row) * norm(other)) });
  }
  return scored.sort((a, b) => b.score - a.score).slice(0, first);
}

const PROJECTION = `query($modelId: ID!, $kind: EntityKind!, $method: ProjectionMethod, $sample: Int, $seed: Int, $colorBy: ColorBy) {
  embeddingProjection(modelId: $modelId, kind: $kind, method: $method, sample: $sample, seed: $seed, colorBy: $colorBy) {
    modelId kind method colorBy sample seed cached explainedVariance points { id x y label color }
  }
}`;
const NEIGHBORS = `query($modelId: ID!, $kind: EntityKind!, $id: ID!, $first: Int) {
  nearestNeighbors(modelId: $modelId, kind: $kind, id: $id, first: $first) { rank id label score }
}`;
const COMPARISON = `query($a: ID!, $b: ID!, $k: Int) {
  modelComparison(a: $a, b: $b, k: $k) {
    a { id } b { id } k sharedUsers sharedItems meanUserCosine
    neighborOverlap { users items }
    layers { name kind relativeChange comparable sharedRows }
    transferReport { modelId strategy outcome search { decision chosenTransfer chosenBaseline validationGain { metric value ciLow ciHigh relative } } negativeTransfer beatsBaseline beatsPopularity gains { metric value ciLow ciHigh relative } gainsOverPopularity { metric value ciLow ciHigh relative } overlap { name count }
      jointReference { strategy metrics { metric value } gains { metric value ciLow ciHigh relative } }
      strata { label users transferred { metric value } baseline { metric value } popularity { metric value } } }
  }
}`;
const CURVE = `query($modelId: ID!) { trainingCurve(modelId: $modelId) { modelId jobId source bestEpoch series { phase points { epoch loss validation } } } }`;

for (const kind of STORAGE_KINDS) {
  describe(`explorer queries over HTTP [${kind}]`, () => {
    const items = clusteredItems();
    const users = rankTwoUsers();
    let db: TestDatabase;
    let server: GraftServer;
    let keys: { analyst: string; app: string };
    let base: string; // a hand-made "pretrained" model: planted vectors, weights, a training history in its metrics
    let tuned: string; // its "fine-tuned" child: same tables, moved dense layers, a transfer report, trained by a job

    beforeAll(async () => {
      clearEmbeddingMatrices();
      clearProjectionCache();
      db = await freshDatabase(kind);
      await ingestItems(db, 'shop', [Array.from({ length: ITEMS }, (_, i) => ({ item: itemId(i), title: `Product ${i}`, tags: [TAGS[i % 3]!] }))]);
      const events: EventRecord[] = [];
      for (let u = 0; u < USERS; u++) {
        for (const i of [u % ITEMS, (u * 7) % ITEMS]) events.push({ user: userId(u), item: itemId(i), weight: 1, time: new Date(Date.UTC(2026, 0, 1, 0, 0, events.length)), kind: 'view' });
      }
      await ingestEvents(db, 'shop', [events]);
      const userRows = new Map((await db.db.selectFrom('users').select(['id', 'external_id']).execute()).map((r) => [r.external_id, r.id]));
      const itemRows = new Map((await db.db.selectFrom('items').select(['id', 'external_id']).execute()).map((r) => [r.external_id, r.id]));
      const userDbIds = Int32Array.from({ length: USERS }, (_, u) => userRows.get(userId(u))!);
      const itemDbIds = Int32Array.from({ length: ITEMS }, (_, i) => itemRows.get(itemId(i))!);

      const rng = createRng(13);
      const weight = (name: string, wkind: NamedWeight['kind'], shape: number[]): NamedWeight => ({
        name,
        kind: wkind,
        shape,
        data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal()),
      });
      const weights = [weight('user.embedding', 'table', [USERS, 6]), weight('item.embedding', 'table', [ITEMS, 6]), weight('user.dense.0.kernel', 'dense', [6, DIM]), weight('item.dense.0.kernel', 'dense', [6, DIM])];
      const register = async (info: { kind: 'PRETRAIN' | 'TRANSFER'; parent?: string; jobId?: string; metrics: Record<string, unknown>; report?: Record<string, unknown> }, w: NamedWeight[], userVectors: Float32Array, itemVectors: Float32Array) => {
        const record = await createModel(db.db, { domain: 'shop', kind: info.kind, strategy: info.parent ? 'PARTIAL' : null, parentModelId: info.parent ?? null, jobId: info.jobId ?? null, config: {} });
        await saveWeights(db.db, record.id, w);
        await saveIdArtifact(db.db, record.id, 'vocab:users', userDbIds);
        await saveIdArtifact(db.db, record.id, 'vocab:items', itemDbIds);
        await saveEmbeddings(db.db, record.id, 'USER', userDbIds, userVectors, DIM);
        await saveEmbeddings(db.db, record.id, 'ITEM', itemDbIds, itemVectors, DIM);
        await markModelReady(db.db, record.id, { metrics: info.metrics, transferReport: info.report ?? null });
        return record.id;
      };
      const history = [
        { epoch: 1, loss: 2.5, validation: 0.21 },
        { epoch: 2, loss: 1.75, validation: 0.34 },
        { epoch: 3, loss: 1.5, validation: 0.33 },
      ];
      base = await register({ kind: 'PRETRAIN', metrics: { training: { epochs: 3, bestEpoch: 2, history } } }, weights, users, items);

      // The child's job: a first attempt that crashed after one epoch, then a full second attempt (transfer and baseline).
      const job = await enqueueJob(db, { kind: 'PRETRAIN', input: { domain: 'shop', epochs: 2 } });
      const epoch = (phase: string, e: number, loss: number, validation?: number) => ({ kind: 'epoch', payload: { phase, epoch: e, epochs: 2, loss, validation, examplesPerSecond: 1000, elapsedMs: 5 } });
      await appendJobEvents(db.db, job.id, [
        { kind: 'started', payload: { attempt: 1 } },
        epoch('transfer', 1, 9.9, 0.01),
        { kind: 'requeued', payload: { reason: 'worker lost' } },
        { kind: 'started', payload: { attempt: 2 } },
        { kind: 'phase', payload: { phase: 'transfer' } },
        epoch('transfer', 1, 1.2, 0.4),
        epoch('transfer', 2, 1.0, 0.45),
        { kind: 'phase', payload: { phase: 'baseline' } },
        epoch('baseline', 1, 2.2),
        epoch('baseline', 2, 2.0),
      ]);
      const report = {
        gain: { 'hr@10': { value: 0.06, ci95: [0.02, 0.1], relative: 0.3 }, mrr: { value: 0.01, ci95: [-0.01, 0.03], relative: null } },
        gainOverPopularity: { 'hr@10': { value: 0.2, ci95: [0.15, 0.25], relative: 2 } },
        guard: { beatsBaseline: true, beatsPopularity: true },
        joint: { strategy: 'JOINT', metrics: { 'hr@10': 0.33 }, gain: { 'hr@10': { value: -0.03, ci95: [-0.07, 0.01], relative: -0.09 } } },
        outcome: 'TRANSFER',
        search: {
          budget: '3', eta: 3, rungs: 3, metric: 'ndcg@10 (sampled, 999 negatives)', validationUsers: 80, seed: 1, stoppedByClock: false, seconds: 2,
          decision: 'transfer', validationGain: { value: 0.012, ci95: [0.004, 0.02] },
          transfer: { label: 'PARTIAL(1), replay 0.5', epochs: 3, validation: 0.31 }, baseline: { label: 'target only', epochs: 3, validation: 0.298 },
          trials: [{ search: 'transfer', config: 0, label: 'PARTIAL(1), replay 0.5', settings: {}, rung: 0, epochs: 3, validation: 0.31, seconds: 1 }],
        },
        overlap: { usersInBoth: 70, targetOnlyUsers: 10 },
        strata: [{ label: '1-2', users: 80, transferred: { 'hr@10': 0.3 }, baseline: { 'hr@10': 0.24 }, popularity: { 'hr@10': 0.1 } }],
      };
      const moved = weights.map((w) => (w.kind === 'dense' ? { ...w, data: w.data.map((x) => x * 1.1) } : w));
      tuned = await register({ kind: 'TRANSFER', parent: base, jobId: job.id, metrics: {}, report }, moved, users.map((x, i) => x + (i % 5 === 0 ? 0.5 : 0)), items);

      keys = {
        analyst: (await createApiKey(db.db, { name: 'analyst', role: 'ANALYST' })).key,
        app: (await createApiKey(db.db, { name: 'app', role: 'APP' })).key,
      };
      server = await startGraftServer({ gdb: db, port: 0, host: '127.0.0.1', logger: pino({ level: 'silent' }), preload: false, runJobs: false });
    }, 120_000);
    afterAll(async () => {
      await server?.close();
      await db?.dispose();
    });

    const ask = (query: string, variables: Record<string, unknown>, key: string | null = keys.analyst) => gql({ server }, query, { variables, key });

    it('embedding: the stored vector and its norm', async () => {
      const res = await ask('query($m: ID!, $id: ID!) { embedding(modelId: $m, kind: ITEM, id: $id) { modelId kind id dim vector norm } }', { m: base, id: itemId(5) });
      expect(res.errors).toBeUndefined();
      const expected = Array.from(items.subarray(5 * DIM, 6 * DIM));
      expect(res.data!.embedding).toMatchObject({ modelId: base, kind: 'ITEM', id: itemId(5), dim: DIM });
      res.data!.embedding.vector.forEach((x: number, j: number) => expect(x).toBeCloseTo(expected[j]!, 5));
      expect(res.data!.embedding.norm).toBeCloseTo(Math.hypot(...expected), 4);
    });

    it('PCA of the planted rank-2 user set puts all of its variance on the two axes, in the planted 16:1 ratio', async () => {
      const res = await ask(PROJECTION, { modelId: base, kind: 'USER', method: 'PCA', sample: USERS, colorBy: 'TAG' });
      expect(res.errors).toBeUndefined();
      const p = res.data!.embeddingProjection;
      expect(p.points).toHaveLength(USERS);
      const [first, second] = p.explainedVariance as [number, number];
      expect(first + second).toBeGreaterThan(0.999);
      // Sample variances of 4·N(0,1) and N(0,1) on 80 users: the ratio is near 16, not exactly.
      expect(first / second).toBeGreaterThan(6);
      expect(first / second).toBeLessThan(40);
      // The projected points keep the planted structure: their own variance splits the same way.
      const variance = (xs: number[]) => xs.reduce((s, x) => s + x * x, 0) / xs.length - (xs.reduce((s, x) => s + x, 0) / xs.length) ** 2;
      const vx = variance(p.points.map((q: { x: number }) => q.x));
      const vy = variance(p.points.map((q: { y: number }) => q.y));
      expect(vx / (vx + vy)).toBeCloseTo(first, 3);
    });

    it('draws the requested sample with titles and colours, and reuses the layout on the second call', async () => {
      const vars = { modelId: base, kind: 'ITEM', method: 'UMAP', sample: 30, seed: 3, colorBy: 'TAG' };
      const first = await ask(PROJECTION, vars);
      expect(first.errors).toBeUndefined();
      const p = first.data!.embeddingProjection;
      expect(p).toMatchObject({ method: 'UMAP', sample: 30, seed: 3, explainedVariance: null });
      expect(p.points).toHaveLength(30);
      expect(new Set(p.points.map((q: { id: string }) => q.id)).size).toBe(30);
      for (const q of p.points) {
        const i = Number(q.id.slice(1));
        expect(q.label).toBe(`Product ${i}`);
        expect(q.color).toBe(TAGS[i % 3]);
      }
      const again = await ask(PROJECTION, { ...vars, colorBy: 'POPULARITY' });
      expect(again.data!.embeddingProjection.cached).toBe(true);
      expect(again.data!.embeddingProjection.points.map((q: { x: number }) => q.x)).toEqual(p.points.map((q: { x: number }) => q.x));
      // More than the model has: all of its rows.
      const all = await ask(PROJECTION, { modelId: base, kind: 'ITEM', sample: 20_000 });
      expect(all.data!.embeddingProjection.points).toHaveLength(ITEMS);
    });

    it('nearestNeighbors agrees with an exact cosine search', async () => {
      for (const row of [0, 17, 46]) {
        const res = await ask(NEIGHBORS, { modelId: base, kind: 'ITEM', id: itemId(row), first: 10 });
        expect(res.errors).toBeUndefined();
        const expected = exactNeighbours(items, row, 10);
        expect(res.data!.nearestNeighbors.map((n: { id: string }) => n.id)).toEqual(expected.map((e) => itemId(e.row)));
        res.data!.nearestNeighbors.forEach((n: { rank: number; score: number; label: string }, i: number) => {
          expect(n.rank).toBe(i + 1);
          expect(n.score).toBeCloseTo(expected[i]!.score, 5);
          expect(n.label).toBe(`Product ${expected[i]!.row}`);
        });
      }
      const usersNear = await ask(NEIGHBORS, { modelId: base, kind: 'USER', id: userId(9), first: 100 });
      expect(usersNear.data!.nearestNeighbors.map((n: { id: string }) => n.id)).toEqual(exactNeighbours(users, 9, 79).map((e) => userId(e.row)));
    });

    it('a model compared with itself: overlap 1, cosine 1, zero change in every layer', async () => {
      const res = await ask(COMPARISON, { a: base, b: base, k: 5 });
      expect(res.errors).toBeUndefined();
      const c = res.data!.modelComparison;
      expect(c).toMatchObject({ a: { id: base }, b: { id: base }, k: 5, sharedUsers: USERS, sharedItems: ITEMS, neighborOverlap: { users: 1, items: 1 }, transferReport: null });
      expect(c.meanUserCosine).toBeCloseTo(1, 6);
      expect(c.layers.map((l: { name: string }) => l.name)).toEqual(['user.embedding', 'item.embedding', 'user.dense.0.kernel', 'item.dense.0.kernel']);
      for (const layer of c.layers) expect(layer).toMatchObject({ relativeChange: 0, comparable: true });
    });

    it('a fine-tuned child vs its parent: tables unchanged, dense layers moved by 10%, and the transfer report', async () => {
      const res = await ask(COMPARISON, { a: base, b: tuned });
      expect(res.errors).toBeUndefined();
      const c = res.data!.modelComparison;
      expect(c.k).toBe(10);
      const layer = new Map(c.layers.map((l: { name: string }) => [l.name, l]));
      expect(layer.get('user.embedding')).toMatchObject({ relativeChange: 0, sharedRows: USERS });
      expect((layer.get('user.dense.0.kernel') as { relativeChange: number }).relativeChange).toBeCloseTo(0.1, 5);
      expect(c.meanUserCosine).toBeLessThan(1);
      expect(c.transferReport).toMatchObject({ modelId: tuned, strategy: 'PARTIAL', negativeTransfer: false });
      // AUTO's verdict (issue 17): a transfer, and the validation gain over the tuned baseline that decided it.
      expect(c.transferReport).toMatchObject({
        outcome: 'TRANSFER',
        search: { decision: 'transfer', chosenTransfer: 'PARTIAL(1), replay 0.5 (3 epochs)', chosenBaseline: 'target only (3 epochs)', validationGain: { metric: 'ndcg@10', value: 0.012, ciLow: 0.004, ciHigh: 0.02, relative: null } },
      });
      expect(c.transferReport.gains).toEqual([
        { metric: 'hr@10', value: 0.06, ciLow: 0.02, ciHigh: 0.1, relative: 0.3 },
        { metric: 'mrr', value: 0.01, ciLow: -0.01, ciHigh: 0.03, relative: null },
      ]);
      // The guard's second comparison (issue 16): the gain over popularity on the same users.
      expect(c.transferReport).toMatchObject({ beatsBaseline: true, beatsPopularity: true, gainsOverPopularity: [{ metric: 'hr@10', value: 0.2, ciLow: 0.15, ciHigh: 0.25, relative: 2 }] });
      // The JOINT reference row (issue 17): its metrics and the transfer's gain over it.
      expect(c.transferReport.jointReference).toEqual({ strategy: 'JOINT', metrics: [{ metric: 'hr@10', value: 0.33 }], gains: [{ metric: 'hr@10', value: -0.03, ciLow: -0.07, ciHigh: 0.01, relative: -0.09 }] });
      // Sorted by name: jsonb does not keep the order the report was written in.
      expect(c.transferReport.overlap).toEqual([{ name: 'targetOnlyUsers', count: 10 }, { name: 'usersInBoth', count: 70 }]);
      expect(c.transferReport.strata[0]).toEqual({ label: '1-2', users: 80, transferred: [{ metric: 'hr@10', value: 0.3 }], baseline: [{ metric: 'hr@10', value: 0.24 }], popularity: [{ metric: 'hr@10', value: 0.1 }] });
    });

    it('trainingCurve: a job-trained model from the last attempt of its job (transfer and baseline), a CLI-trained one from its metrics', async () => {
      const fromJob = await ask(CURVE, { modelId: tuned });
      expect(fromJob.errors).toBeUndefined();
      expect(fromJob.data!.trainingCurve).toMatchObject({ modelId: tuned, source: 'JOB_EVENTS' });
      expect(fromJob.data!.trainingCurve.series).toEqual([
        { phase: 'transfer', points: [{ epoch: 1, loss: 1.2, validation: 0.4 }, { epoch: 2, loss: 1.0, validation: 0.45 }] },
        { phase: 'baseline', points: [{ epoch: 1, loss: 2.2, validation: null }, { epoch: 2, loss: 2.0, validation: null }] },
      ]);
      const fromMetrics = await ask(CURVE, { modelId: base });
      expect(fromMetrics.data!.trainingCurve).toEqual({
        modelId: base,
        jobId: null,
        source: 'MODEL_METRICS',
        bestEpoch: 2,
        series: [{ phase: 'training', points: [{ epoch: 1, loss: 2.5, validation: 0.21 }, { epoch: 2, loss: 1.75, validation: 0.34 }, { epoch: 3, loss: 1.5, validation: 0.33 }] }],
      });
    });

    it('needs ANALYST, checks bounds, and names what is missing', async () => {
      const vars = { modelId: base, kind: 'ITEM', id: itemId(1), first: 5 };
      expect(codes(await ask(NEIGHBORS, vars, null))).toEqual(['UNAUTHENTICATED']);
      const app = await ask(NEIGHBORS, vars, keys.app);
      expect(codes(app)).toEqual(['FORBIDDEN']);
      expect(app.errors![0]!.message).toMatch(/needs role ANALYST/);
      expect(codes(await ask(COMPARISON, { a: base, b: tuned }, keys.app))).toEqual(['FORBIDDEN']);
      expect(codes(await ask(CURVE, { modelId: base }, keys.app))).toEqual(['FORBIDDEN']);
      expect(codes(await ask(NEIGHBORS, { ...vars, first: 101 }))).toEqual(['BAD_USER_INPUT']);
      expect(codes(await ask(NEIGHBORS, { ...vars, first: 0 }))).toEqual(['BAD_USER_INPUT']);
      expect(codes(await ask(PROJECTION, { modelId: base, kind: 'ITEM', sample: 20_001 }))).toEqual(['BAD_USER_INPUT']);
      expect(codes(await ask(COMPARISON, { a: base, b: tuned, k: 101 }))).toEqual(['BAD_USER_INPUT']);
      const unknown = await ask(NEIGHBORS, { ...vars, id: 'nope' });
      expect(codes(unknown)).toEqual(['NOT_FOUND']);
      expect(unknown.errors![0]!.message).toMatch(/domain "shop" has no item "nope"/);
      const badId = await ask(CURVE, { modelId: 'model-7' });
      expect(codes(badId)).toEqual(['BAD_USER_INPUT']);
      expect(badId.errors![0]!.message).toMatch(/"model-7" is not a model id/);
    });
  });
}
