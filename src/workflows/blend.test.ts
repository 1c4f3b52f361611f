import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../model/backend.js';
import { TwoTowerModel } from '../model/two-tower.model.js';
import { createRng } from '../dataset/random.js';
import { validationScorer } from './auto-transfer.js';
import { BLEND_WEIGHTS, blendedModel, blendVectors, isBlendable, scoreScale, type RowVectors } from './blend.js';
import { BLEND_REFITS, bestBlend, blendKind, blendRefits, blendScorer, fitWithinClock, keepForBlend, type BlendableTrial, type KeptTrial } from './blend-search.js';
import { DEFAULT_EVALUATION } from './model-settings.js';

const dot = (v: RowVectors, u: number, i: number) => {
  let s = 0;
  for (let x = 0; x < v.dim; x++) s += v.users[u * v.dim + x]! * v.items[i * v.dim + x]!;
  return s;
};

function randomRows(users: number, items: number, dim: number, seed: number): RowVectors {
  const rng = createRng(seed);
  return { users: Float32Array.from({ length: users * dim }, () => rng.next() - 0.5), items: Float32Array.from({ length: items * dim }, () => rng.next() - 0.5), dim };
}

function alsModel(users: number, items: number, dim: number, seed: number): TwoTowerModel {
  const model = TwoTowerModel.create({ users, items, dim, layers: [], objective: 'implicit-als', seed });
  const rows = randomRows(users, items, dim, seed + 100);
  model.userTable.weights.set(rows.users);
  model.itemTable.weights.set(rows.items);
  return model;
}

describe('a blend of two ID-rows models', () => {
  beforeAll(async () => {
    await initBackend({ prefer: 'cpu' });
  });

  it("scores the weighted mean of the models' scores, each in units of its own typical score", () => {
    const a = randomRows(30, 20, 4, 1);
    // b's scores are 50x larger: without the scales it would decide every ranking alone.
    const b = randomRows(30, 20, 3, 2);
    b.users.forEach((x, k) => (b.users[k] = 50 * x));
    const sa = scoreScale(a, 30, 20);
    const sb = scoreScale(b, 30, 20);
    expect(sb / sa).toBeGreaterThan(10);
    for (const w of [0, 0.25, 0.5, 1]) {
      const blend = blendVectors(a, b, w, 30, 20);
      expect(blend.dim).toBe(7);
      for (const [u, i] of [[0, 0], [7, 13], [29, 19]] as const) {
        expect(dot(blend, u, i)).toBeCloseTo((w * dot(a, u, i)) / sa + ((1 - w) * dot(b, u, i)) / sb, 5);
      }
    }
    expect(() => blendVectors(a, b, 1.5, 30, 20)).toThrow(/a blend's weight is 1.5; it must be between 0 and 1/);
  });

  it('is one implicit-ALS model of dimension d_a + d_b: shared rows blended, rows only the first model has scored by it alone, the popularity term from the events', () => {
    // a: 12 users, 10 items (a transfer keeps source rows after the target's); b: the 8 target users and 6 target items.
    const a = alsModel(12, 10, 4, 3);
    const b = alsModel(8, 6, 3, 4);
    const events = { items: Int32Array.from([0, 0, 0, 2, 5, 5]) };
    const blended = blendedModel(a, b, 0.25, { users: 8, items: 6 }, 0.1, events);
    try {
      expect(blended.config).toMatchObject({ objective: 'implicit-als', dim: 7, popularityWeight: 0.1 });
      expect([blended.users, blended.items]).toEqual([12, 10]);
      expect(isBlendable(blended.config)).toBe(true);
      const ra = { users: a.embedUsers(), items: a.embedItems(), dim: 4 };
      const rb = { users: b.embedUsers(), items: b.embedItems(), dim: 3 };
      const sa = scoreScale(ra, 8, 6);
      const sb = scoreScale(rb, 8, 6);
      // embed* carries the popularity column: <[u, 1], [v, β log(1 + n_i)]>.
      const v = { users: blended.embedUsers(), items: blended.embedItems(), dim: blended.outputDim };
      expect(v.dim).toBe(8);
      const pop = (i: number) => 0.1 * Math.log1p(events.items.filter((x) => x === i).length);
      for (const [u, i] of [[0, 0], [3, 5], [7, 2]] as const) {
        expect(dot(v, u, i)).toBeCloseTo((0.25 * dot(ra, u, i)) / sa + (0.75 * dot(rb, u, i)) / sb + pop(i), 5);
      }
      // User 10 and item 8 exist in a only: b's half is 0, so they rank by a alone.
      expect(dot(v, 10, 1)).toBeCloseTo((0.25 * dot(ra, 10, 1)) / sa + pop(1), 5);
      expect(dot(v, 2, 8)).toBeCloseTo((0.25 * dot(ra, 2, 8)) / sa, 5);
      // It round-trips through the registry's format like any model.
      const rebuilt = TwoTowerModel.fromWeights(blended.config, blended.exportWeights());
      expect(rebuilt.embedUsers()).toEqual(blended.embedUsers());
      expect(rebuilt.embedItems()).toEqual(blended.embedItems());
      rebuilt.dispose();
      // The inputs are unchanged.
      expect(a.config.dim).toBe(4);
      expect(a.embedUsers()).toEqual(ra.users);
    } finally {
      blended.dispose();
      a.dispose();
      b.dispose();
    }
  });

  it('refuses models that are not ID rows, and shared rows the models lack', () => {
    const a = alsModel(8, 6, 4, 5);
    const towers = TwoTowerModel.create({ users: 8, items: 6, dim: 4, layers: [8], objective: 'softmax', seed: 1 });
    try {
      expect(() => blendedModel(a, towers, 0.5, { users: 8, items: 6 }, 0, { items: new Int32Array(0) })).toThrow(/the second model of a blend has objective softmax with layers \[8\]; only implicit-ALS ID rows can be blended/);
      expect(() => blendedModel(a, a, 0.5, { users: 9, items: 6 }, 0, { items: new Int32Array(0) })).toThrow(/shares 9 users and 6 items, but the models have 8\/8 users/);
    } finally {
      a.dispose();
      towers.dispose();
    }
  });
});

describe("AUTO's blend search", () => {
  beforeAll(async () => {
    await initBackend({ prefer: 'cpu' });
  });

  it('keeps the best trial of each kind, and only models a blend can take', () => {
    const kept = new Map<string, KeptTrial>();
    const trial = (search: 'transfer' | 'baseline', strategy: 'FULL' | 'JOINT' | undefined, score: number, key: string) => ({ search, settings: strategy ? { strategy, alsAlpha: score } : { objective: 'implicit-als' as const }, epochs: 2, key, label: key, score });
    const m1 = alsModel(10, 8, 4, 1);
    const m2 = alsModel(10, 8, 4, 2);
    const towers = TwoTowerModel.create({ users: 10, items: 8, dim: 4, layers: [8], objective: 'softmax', seed: 1 });
    try {
      keepForBlend(kept, trial('transfer', 'FULL', 0.2, 'full a'), m1, 6, 5);
      keepForBlend(kept, trial('transfer', 'FULL', 0.1, 'full b'), m2, 6, 5);
      keepForBlend(kept, trial('transfer', 'JOINT', 0.15, 'joint'), m2, 6, 5);
      keepForBlend(kept, trial('baseline', undefined, 0.3, 'towers'), towers, 6, 5);
      expect([...kept.values()].map((t) => t.key)).toEqual(['full a', 'joint']);
      expect(kept.get(blendKind('transfer', { strategy: 'FULL' }))!.vectors.users).toEqual(m1.embedUsers().slice(0, 6 * 4));
      expect(kept.get(blendKind('transfer', { strategy: 'FULL' }))!.vectors.items.length).toBe(5 * 4);
      // A better trial of the kind replaces it.
      keepForBlend(kept, trial('transfer', 'FULL', 0.25, 'full c'), m2, 6, 5);
      expect(kept.get(blendKind('transfer', { strategy: 'FULL' }))!.key).toBe('full c');
    } finally {
      m1.dispose();
      m2.dispose();
      towers.dispose();
    }
  });

  it("fits each partner kind's best few configurations at the top rung, not only its best at the first rung", () => {
    const joint = (alsAlpha: number, epochs: number, score: number): BlendableTrial => ({ search: 'transfer', settings: { strategy: 'JOINT', alsAlpha }, epochs, score });
    const trials: BlendableTrial[] = [
      // The winner's kind is not a partner, however many configurations it has.
      { search: 'transfer', settings: { strategy: 'FULL', alsAlpha: 1 }, epochs: 2, score: 0.3 },
      { search: 'transfer', settings: { strategy: 'FULL', alsAlpha: 2 }, epochs: 2, score: 0.2 },
      joint(10, 2, 0.1),
      joint(20, 2, 0.12),
      joint(30, 2, 0.11),
      joint(40, 2, 0.05),
      // JOINT α 30 went on to the top rung: the search fitted it there already.
      joint(30, 6, 0.13),
      joint(30, 18, 0.14),
      { search: 'baseline', settings: { objective: 'implicit-als', alsAlpha: 5 }, epochs: 2, score: 0.09 },
      { search: 'baseline', settings: { objective: 'implicit-als', alsAlpha: 5 }, epochs: 6, score: 0.1 },
    ];
    const refits = blendRefits(trials, blendKind('transfer', { strategy: 'FULL' }), () => 18);
    expect(BLEND_REFITS).toBe(3);
    // JOINT's best three by their best score at any rung: α 30 (fitted at 18 already), 20, 10; α 40 is fourth.
    expect(refits.map((t) => [t.search, t.settings.alsAlpha, t.epochs])).toEqual([
      ['transfer', 20, 2],
      ['transfer', 10, 2],
      ['baseline', 5, 6],
    ]);
    expect(blendRefits(trials, blendKind('transfer', { strategy: 'FULL' }), () => 18, 1).map((t) => t.settings.alsAlpha)).toEqual([5]);
  });

  it("fits the refits within a minutes budget's clock: none starts after it, the one it interrupts is dropped, a cancellation is rethrown", async () => {
    // A fake clock: each fit takes 10 s; the deadline at 25 s lets three start.
    let clock = 0;
    const done: number[] = [];
    const timed = await fitWithinClock(
      [1, 2, 3, 4, 5],
      async (n) => {
        clock += 10_000;
        done.push(n);
      },
      { deadline: 25_000, now: () => clock },
    );
    expect(timed).toEqual({ fitted: 3, stoppedByClock: true });
    expect(done).toEqual([1, 2, 3]);
    // A trials budget (no deadline) fits them all.
    expect(await fitWithinClock([1, 2], async () => {}, { deadline: Number.POSITIVE_INFINITY })).toEqual({ fitted: 2, stoppedByClock: false });
    // The clock interrupts a running fit: it is dropped, and the rest are not started.
    const waitForAbort = (signal: AbortSignal | undefined) =>
      new Promise<void>((_, reject) => signal!.addEventListener('abort', () => reject(new Error('fit aborted'))));
    const started: number[] = [];
    const interrupted = await fitWithinClock(
      [1, 2],
      (n, signal) => {
        started.push(n);
        return waitForAbort(signal);
      },
      { deadline: performance.now() + 30 },
    );
    expect(interrupted).toEqual({ fitted: 0, stoppedByClock: true });
    expect(started).toEqual([1]);
    // A cancellation by the caller is rethrown, not taken for the clock.
    const controller = new AbortController();
    const cancelled = fitWithinClock(
      [1],
      (_, signal) => {
        setTimeout(() => controller.abort(new Error('cancelled by the admin')), 5);
        return waitForAbort(signal);
      },
      { deadline: performance.now() + 60_000, signal: controller.signal },
    );
    await expect(cancelled).rejects.toThrow('fit aborted');
  });

  /*
   * A world where the winning transfer knows the first half of the users and its partner the
   * second: each alone ranks half the carve right, the blend all of it. A partner that knows
   * nothing (every item scored alike) adds nothing, and is not delivered.
   */
  const USERS = 200;
  const ITEMS = 40;
  const carveItem = (u: number) => u % ITEMS;
  const train = { users: Int32Array.from({ length: USERS }, (_, u) => u), items: Int32Array.from({ length: USERS }, (_, u) => (u + 20) % ITEMS) };
  const carve = { users: Int32Array.from({ length: USERS }, (_, u) => u), items: Int32Array.from({ length: USERS }, (_, u) => carveItem(u)) };
  const oneHotItems = Float32Array.from({ length: ITEMS * ITEMS }, (_, k) => (Math.floor(k / ITEMS) === k % ITEMS ? 1 : 0));
  const knows = (who: (u: number) => boolean): RowVectors => ({
    users: Float32Array.from({ length: USERS * ITEMS }, (_, k) => {
      const u = Math.floor(k / ITEMS);
      return who(u) ? (k % ITEMS === carveItem(u) ? 1 : 0) : 0.1;
    }),
    items: oneHotItems.slice(),
    dim: ITEMS,
  });
  const keptTrial = (key: string, search: 'transfer' | 'baseline', vectors: RowVectors, score: number): KeptTrial => ({ search, settings: {}, epochs: 2, key, label: key, score, vectors });

  it('blends the winner with the partner that best complements it on the carve, and delivers it when the gain is significant', () => {
    const { scoreAt, scoreMixes } = validationScorer(train, carve, USERS, ITEMS, { ...DEFAULT_EVALUATION, protocol: 'full' });
    const scoreBlend = blendScorer(scoreMixes, [undefined], [0], { targetUsers: USERS, targetItems: ITEMS });
    const winner = knows((u) => u < USERS / 2);
    const alone = scoreAt(winner, [undefined])[0]!;
    const kept = new Map<string, KeptTrial>([
      ['w', keptTrial('winner', 'transfer', winner, alone.value)],
      ['n', keptTrial('knows nothing', 'transfer', knows(() => false), 0)],
      ['p', keptTrial('knows the rest', 'baseline', knows((u) => u >= USERS / 2), alone.value)],
    ]);
    const found = bestBlend(kept, 'winner', alone.perUser, scoreBlend, 7)!;
    expect(found.chosen!.partner.key).toBe('knows the rest');
    expect(BLEND_WEIGHTS).toContain(found.chosen!.weight);
    expect(found.report).toMatchObject({ partner: 'knows the rest', partnerSearch: 'baseline', delivered: true, tried: 2 * BLEND_WEIGHTS.length });
    expect(found.report.validation).toBeCloseTo(1, 5);
    // Alone: half the carve right (the other half ties every item and gets the ties' share).
    expect(alone.value).toBeGreaterThan(0.5);
    expect(alone.value).toBeLessThan(0.7);
    expect(found.report.validationGain.ci95[0]).toBeGreaterThan(0);

    // Without the complementing partner, the best blend is the winner's own ranking: reported, not delivered.
    kept.delete('p');
    const none = bestBlend(kept, 'winner', alone.perUser, scoreBlend, 7)!;
    expect(none.chosen).toBeUndefined();
    expect(none.report).toMatchObject({ partner: 'knows nothing', delivered: false });
    expect(none.report.validation).toBeCloseTo(alone.value, 5);
    // No blend when the winner was not kept (not ID rows) or is the only kind.
    expect(bestBlend(kept, 'a hybrid winner', alone.perUser, scoreBlend, 7)).toBeUndefined();
    kept.delete('n');
    expect(bestBlend(kept, 'winner', alone.perUser, scoreBlend, 7)).toBeUndefined();
  });

  it('scores every weight and popularity term in one pass under the sampled protocol, as each blended model scored alone would', () => {
    const rng = createRng(9);
    const a = randomRows(USERS, ITEMS, 6, 11);
    const b = randomRows(USERS, ITEMS, 4, 12);
    const bias = Float32Array.from({ length: ITEMS }, () => rng.next());
    const { scoreAt, scoreMixes } = validationScorer(train, carve, USERS, ITEMS, { ...DEFAULT_EVALUATION, protocol: 'sampled', negatives: 30, seed: 3 });
    const found = blendScorer(scoreMixes, [undefined, bias], [0, 0.5], { targetUsers: USERS, targetItems: ITEMS })(a, b);
    expect(found.map((r) => r.weight)).toEqual(BLEND_WEIGHTS);
    for (const r of found) {
      const [plain, withTerm] = scoreAt(blendVectors(a, b, r.weight, USERS, ITEMS), [undefined, bias]);
      const best = withTerm!.value > plain!.value ? withTerm! : plain!;
      expect(r.beta).toBe(best === withTerm ? 0.5 : 0);
      // The same candidates and ranks; only float rounding of the products differs.
      expect(r.score.value).toBeCloseTo(best.value, 6);
    }
    // Under the full protocol, the same through one pass per mix.
    const full = validationScorer(train, carve, USERS, ITEMS, { ...DEFAULT_EVALUATION, protocol: 'full' });
    const concat = blendVectors(a, b, 0.3, USERS, ITEMS);
    const sa = scoreScale(a, USERS, ITEMS);
    const sb = scoreScale(b, USERS, ITEMS);
    // blendVectors divides by the scales; the mix's own weights do not.
    const [direct] = full.scoreMixes([a, b], [{ weights: [0.3 / sa, 0.7 / sb] }]);
    expect(direct!.value).toBeCloseTo(full.scoreAt(concat, [undefined])[0]!.value, 6);
  });
});
