import { describe, expect, it } from 'vitest';
import { modelObjective } from '../model/objective.js';
import { objectiveAnchors, searchedObjectives, trialFit } from './auto-transfer.js';
import { evaluationData } from './evaluation-data.js';
import { DEFAULT_MODEL, DEFAULT_TRAINING, modelConfig } from './model-settings.js';

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

describe('the first draws of a target-only search (objectiveAnchors)', () => {
  const label = (c: { objective?: string; scoring?: string }) => `${c.objective ?? 'own'}${c.scoring ? ` ${c.scoring}` : ''}`;
  const own = { learningRate: 0.003, temperature: 0.2 };

  it('every family\'s defaults first, then the softmax towers\' other scoring', () => {
    const base = modelConfig(DEFAULT_MODEL, 10, 10);
    const anchors = objectiveAnchors(base, searchedObjectives(modelObjective('softmax')), 0.003, own);
    expect(anchors.map(label)).toEqual(['softmax cosine', 'implicit-als', 'hybrid', 'softmax inner-product']);
    expect(anchors[3]).toEqual({ ...anchors[0], scoring: 'inner-product' });
  });

  it('the run\'s own scoring leads (graft train --auto --scoring inner-product), the other follows', () => {
    const base = modelConfig({ ...DEFAULT_MODEL, scoring: 'inner-product' }, 10, 10);
    expect(objectiveAnchors(base, searchedObjectives(modelObjective('softmax')), 0.003, own).map(label)).toEqual(['softmax inner-product', 'implicit-als', 'hybrid', 'softmax cosine']);
    expect(objectiveAnchors(base, [modelObjective('softmax')], 0.003, own).map(label)).toEqual(['own inner-product', 'own cosine']);
  });

  it('an objective with one scoring starts once (implicit ALS first: the softmax towers still get both)', () => {
    const base = modelConfig({ ...DEFAULT_MODEL, objective: 'implicit-als' }, 10, 10);
    const anchors = objectiveAnchors(base, searchedObjectives(modelObjective('implicit-als')), 0.003, { alsAlpha: 40, alsRegularization: 0.1 });
    expect(anchors.map(label)).toEqual(['implicit-als', 'hybrid', 'softmax cosine', 'softmax inner-product']);
    expect(objectiveAnchors(base, [modelObjective('implicit-als')], 0.003, { alsAlpha: 40 })).toEqual([{ alsAlpha: 40 }]);
  });
});
