import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../model/backend.js';
import { TwoTowerModel } from '../model/two-tower.model.js';
import { objectiveNamed } from '../training/objectives/index.js';
import { popularityProfiler, POPULARITY_PROFILE, profiledScore, validationScorer } from './auto-transfer.js';
import { DEFAULT_EVALUATION } from './model-settings.js';

/*
 * AUTO scores every trial at each popularity weight of the profile and keeps the best:
 * a real implicit-ALS model on a world where popular items are what users come back for, and
 * on one where they are not.
 */
describe('the popularity term profiled on a validation carve', () => {
  const USERS = 120;
  const ITEMS = 60;
  // Training: user u saw items (u + k) mod ITEMS for k < 4, plus item k for k < u mod 12 (items 0..11 popular).
  const users: number[] = [];
  const items: number[] = [];
  for (let u = 0; u < USERS; u++) {
    for (let k = 0; k < 4; k++) (users.push(u), items.push((u * 7 + k) % ITEMS));
    for (let k = 0; k < u % 12; k++) (users.push(u), items.push(k));
  }
  const train = { users: Int32Array.from(users), items: Int32Array.from(items) };
  let model: TwoTowerModel;

  beforeAll(async () => {
    await initBackend({ prefer: 'cpu' });
    model = TwoTowerModel.create({ users: USERS, items: ITEMS, dim: 8, layers: [], objective: 'implicit-als', seed: 2 });
    await objectiveNamed('implicit-als').fit(model, train, { epochs: 5, batchSize: 64, learningRate: 0, seed: 1, threads: 1 });
  });

  const carve = (item: (u: number) => number) => ({ users: Int32Array.from({ length: USERS }, (_, u) => u), items: Int32Array.from({ length: USERS }, (_, u) => item(u)) });

  // Under both protocols: the sampled one ranks the carve at every weight in one pass.
  for (const protocol of ['full', 'sampled'] as const) {
    const evaluation = { ...DEFAULT_EVALUATION, protocol, negatives: 30 };

    it(`keeps a weight above 0 when the carve's items are the popular ones, and scores at least as well as without the term (${protocol})`, () => {
      const { score, scoreAt } = validationScorer(train, carve((u) => (u + 3) % 12), USERS, ITEMS, evaluation);
      const found = popularityProfiler(train, ITEMS)(model, scoreAt);
      expect(found.beta).toBeGreaterThan(0);
      expect(POPULARITY_PROFILE).toContain(found.beta);
      expect(found.score.value).toBeGreaterThan(score(model));
    });

    it(`keeps 0 (the model as it is) when popularity does not help on the carve (${protocol})`, () => {
      // Each user's carve item: one of the rarest items (seen by few users), never a popular one.
      const { score, scoreAt } = validationScorer(train, carve((u) => 12 + ((u * 7 + 5) % (ITEMS - 12))), USERS, ITEMS, evaluation);
      const found = popularityProfiler(train, ITEMS)(model, scoreAt);
      expect(found.beta).toBe(0);
      expect(found.score.value).toBe(score(model));
      expect(found.score.perUser).toEqual(scoreAt(model, [undefined])[0]!.perUser);
    });

    it(`ranks an ALS-rows trial at its best weight and a softmax trial without the term, both delivered (and compared by the guard) with the weight found (${protocol})`, async () => {
      const { score, scoreAt } = validationScorer(train, carve((u) => (u + 3) % 12), USERS, ITEMS, evaluation);
      const profile = popularityProfiler(train, ITEMS);
      const als = profiledScore(model, scoreAt, profile);
      expect(als.profiled.popularityWeight).toBeGreaterThan(0);
      expect(als.score.value).toBe(profile(model, scoreAt).score.value);
      expect(als.delivered).toEqual(als.score);
      expect(als.score.value).toBeGreaterThan(score(model));
      const softmax = TwoTowerModel.create({ users: USERS, items: ITEMS, dim: 8, layers: [8], userHistory: false, seed: 2 });
      try {
        // Barely trained (one epoch at a tiny rate): the carve's popular items are what the term adds.
        await objectiveNamed('softmax').fit(softmax, train, { epochs: 1, batchSize: 64, learningRate: 1e-5, seed: 1, threads: 1 });
        const found = profile(softmax, scoreAt);
        expect(found.beta).toBeGreaterThan(0);
        const trial = profiledScore(softmax, scoreAt, profile);
        expect(trial.profiled.popularityWeight).toBe(found.beta);
        expect(trial.score.value).toBe(score(softmax));
        expect(trial.score.value).toBeLessThan(found.score.value);
        // What the guard compares: the model as delivered, with the weight found.
        expect(trial.delivered.value).toBe(found.score.value);
        expect(trial.delivered.perUser).toEqual(found.score.perUser);
      } finally {
        softmax.dispose();
      }
    });
  }
});
