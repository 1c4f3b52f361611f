import { describe, expect, it } from 'vitest';
import { trialFit } from './auto-transfer.js';
import { evaluationData } from './evaluation-data.js';
import { DEFAULT_TRAINING } from './model-settings.js';

describe('an AUTO trial is fitted as the delivered model is (trialFit)', () => {
  const events = (users: number[], items: number[]) => ({ users: Int32Array.from(users), items: Int32Array.from(items) });
  const carve = evaluationData(events([0, 1, 1], [0, 1, 2]), events([0, 1], [2, 0]), 2, 3);
  const training = { ...DEFAULT_TRAINING, epochs: 9, patience: 3 };

  it('the softmax towers stop early on the carve with the run\'s patience, keeping their best epoch, within the rung\'s budget', () => {
    const fit = trialFit({ objective: 'softmax' }, carve, training);
    expect(fit.validation).toBe(carve);
    expect(fit.training).toEqual(training);
    expect(trialFit({ objective: undefined }, carve, training).validation).toBe(carve);
  });

  it('implicit ALS (trains on the carve) and the hybrid (would refit on it) train their budget through without it', () => {
    for (const objective of ['implicit-als', 'hybrid'] as const) {
      const fit = trialFit({ objective }, carve, training);
      expect(fit.validation).toBeUndefined();
      expect(fit.training).toEqual({ ...training, patience: 0 });
    }
  });

  it('a run without early stopping (patience 0) trains every trial its budget through', () => {
    expect(trialFit({ objective: 'softmax' }, carve, { ...training, patience: 0 }).validation).toBeUndefined();
  });
});
