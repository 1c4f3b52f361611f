import { describe, expect, it } from 'vitest';
import { createRng } from '../dataset/random.js';
import { evaluate } from '../evaluation/evaluate.js';
import { TwoTowerModel } from '../model/two-tower.model.js';
import { evaluationData } from './evaluation-data.js';
import { carveValidator, fitModel, modelScorer } from './fit-and-evaluate.js';
import { DEFAULT_TRAINING } from './model-settings.js';
import { describeSearchMetric, SEARCH_METRIC, selectionUsers } from './selection-metric.js';

/** Random events over 300 users x 200 items: 4 training events and 1 carve event per user. */
function carve() {
  const rng = createRng(11);
  const [users, items] = [300, 200];
  const train = { users: new Int32Array(4 * users), items: new Int32Array(4 * users) };
  const test = { users: new Int32Array(users), items: new Int32Array(users) };
  for (let u = 0; u < users; u++) {
    for (let k = 0; k < 4; k++) {
      train.users[4 * u + k] = u;
      train.items[4 * u + k] = rng.int(items);
    }
    test.users[u] = u;
    test.items[u] = rng.int(items);
  }
  return { users, items, validation: evaluationData(train, test, users, items) };
}

describe('carveValidator', () => {
  it("scores a carve choice under the run's protocol (NDCG@10), and without one with the cheap metric (HR@10, 99 negatives)", () => {
    const { users, items, validation } = carve();
    const model = TwoTowerModel.create({ users, items, dim: 8, layers: [], objective: 'implicit-als', seed: 3 });
    const selection = { protocol: 'sampled' as const, negatives: 50, seed: 5 };
    const expected = evaluate(modelScorer(model, items), validation, { ...selection, ks: SEARCH_METRIC.ks, users: selectionUsers(validation.test.users, items) }).metrics['ndcg@10']!;
    expect(carveValidator(validation, selection, items)(model)).toBe(expected);
    const cheap = evaluate(modelScorer(model, items), validation, { protocol: 'sampled', negatives: 99, ks: [10], seed: 7, users: selectionUsers(validation.test.users, items) }).metrics['hr@10']!;
    expect(carveValidator(validation, undefined, items)(model)).toBe(cheap);
    expect(expected).not.toBe(cheap);
    model.dispose();
  });
});

describe('fitModel', () => {
  /** The carve's training events, as `fitModel` takes them. */
  function trainingEvents() {
    const rng = createRng(11);
    const [users, items] = [300, 200];
    const ex = { users: new Int32Array(4 * users), items: new Int32Array(4 * users) };
    for (let u = 0; u < users; u++) {
      for (let k = 0; k < 4; k++) {
        ex.users[4 * u + k] = u;
        ex.items[4 * u + k] = rng.int(items);
      }
    }
    return ex;
  }

  it("early-stops on the run's own measure when given its protocol, and names what it measured", async () => {
    const { users, items, validation } = carve();
    const selection = { protocol: 'sampled' as const, negatives: 50, seed: 5 };
    const training = { ...DEFAULT_TRAINING, epochs: 3, patience: 2, batchSize: 64 };
    const fitted = async (given: typeof selection | undefined) => {
      const model = TwoTowerModel.create({ users, items, dim: 8, layers: [8], seed: 3 });
      const named: Array<string | undefined> = [];
      const result = await fitModel(model, trainingEvents(), validation, training, 3, { onEpoch: (p) => void named.push(p.validationMetric) }, items, given);
      // The kept weights score what the fit says they scored, on the measure it names.
      const score = carveValidator(validation, given, items)(model);
      model.dispose();
      return { result, named, score };
    };
    const run = await fitted(selection);
    expect(run.result.validationMetric).toBe(describeSearchMetric(selection));
    expect(run.named.length).toBeGreaterThan(0);
    expect(new Set(run.named)).toEqual(new Set([describeSearchMetric(selection)]));
    expect(run.result.bestValidation).toBeCloseTo(run.score, 6);
    const cheap = await fitted(undefined);
    expect(cheap.result.validationMetric).toBe('hr@10 (sampled, 99 negatives, at most 2000 users)');
    expect(cheap.result.bestValidation).toBeCloseTo(cheap.score, 6);
    // Two measures, two values: the run's NDCG@10 is not the cheap HR@10.
    expect(run.result.bestValidation).not.toBeCloseTo(cheap.result.bestValidation!, 3);
  });
});
