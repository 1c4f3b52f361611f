import { describe, expect, it } from 'vitest';
import { modelObjective } from '../model/objective.js';
import { ALS_MODEL, configForObjective, DEFAULT_MODEL, HYBRID_MODEL, modelConfig, storedModelSettings } from './model-settings.js';
import { withOverrides } from './transfer-candidate.js';

describe('a config re-shaped for another objective (AUTO across objectives)', () => {
  const als = modelConfig({ ...ALS_MODEL, dim: 32, alsAlpha: 12, alsRegularization: 0.4, seed: 9 }, 100, 50);

  it('takes the objective\'s tower shape and keeps dim, the ALS settings and the seed; each result passes its objective\'s checks', () => {
    const hybrid = configForObjective(als, 'hybrid');
    expect(hybrid).toMatchObject({ objective: 'hybrid', layers: [64, 32], userHistory: true, itemBias: false, dim: 32, alsAlpha: 12, alsRegularization: 0.4, seed: 9, users: 100, items: 50 });
    const softmax = configForObjective(als, 'softmax');
    expect(softmax).toMatchObject({ objective: 'softmax', layers: DEFAULT_MODEL.layers, userHistory: DEFAULT_MODEL.userHistory, dim: 32 });
    const back = configForObjective(hybrid, 'implicit-als');
    expect(back).toMatchObject({ objective: 'implicit-als', layers: [], userHistory: false });
    for (const config of [hybrid, softmax, back]) expect(() => modelObjective(config.objective!).check(config as never)).not.toThrow();
    // Its own objective: the very same config.
    expect(configForObjective(als, 'implicit-als')).toBe(als);
  });

  it('applies a search\'s overrides after the re-shaping, and drops a learned item bias where the objective refuses one', () => {
    expect(withOverrides(als, { objective: 'hybrid', alsAlpha: 3 })).toMatchObject({ objective: 'hybrid', alsAlpha: 3, layers: [64, 32] });
    expect(withOverrides(als, { alsAlpha: 3 })).toEqual({ ...als, alsAlpha: 3 });
    expect(withOverrides(als, undefined)).toBe(als);
    const softmaxWithBias = modelConfig({ ...DEFAULT_MODEL, itemBias: true }, 10, 10);
    expect(configForObjective(softmaxWithBias, 'hybrid').itemBias).toBe(false);
    expect(configForObjective(modelConfig(HYBRID_MODEL, 10, 10), 'softmax').itemBias).toBe(false);
  });
});

describe("the softmax user tower's dropouts", () => {
  it('are the softmax defaults; the row-solving objectives have none, and a re-shaped config takes its objective\'s', () => {
    expect(DEFAULT_MODEL).toMatchObject({ userIdInput: true, userIdDropout: 0.8, historyDropout: 0.5 });
    for (const settings of [ALS_MODEL, HYBRID_MODEL]) expect(settings).toMatchObject({ userIdInput: true, userIdDropout: 0, historyDropout: 0 });
    const softmax = modelConfig(DEFAULT_MODEL, 10, 10);
    expect(configForObjective(softmax, 'hybrid')).toMatchObject({ userIdInput: true, userIdDropout: 0, historyDropout: 0 });
    expect(configForObjective(configForObjective(softmax, 'hybrid'), 'softmax')).toMatchObject({ userIdDropout: 0.8, historyDropout: 0.5 });
    for (const config of [configForObjective(softmax, 'hybrid'), configForObjective(softmax, 'implicit-als')]) expect(() => modelObjective(config.objective!).check(config as never)).not.toThrow();
  });

  it('a model stored before they existed keeps what it was trained with: its ID row in, no dropout, history only if stored', () => {
    const old = storedModelSettings({ objective: 'softmax', dim: 32, layers: [64, 32], temperature: 0.2 } as never);
    expect(old).toMatchObject({ userIdInput: true, userIdDropout: 0, historyDropout: 0, userHistory: false, dim: 32 });
    const config = modelConfig(old, 5, 5);
    expect(config).toMatchObject({ userIdInput: true, userIdDropout: 0, historyDropout: 0 });
    // A model stored with them keeps them.
    expect(storedModelSettings({ ...DEFAULT_MODEL, userIdDropout: 0.3, historyDropout: 0.6, userIdInput: false })).toMatchObject({ userIdDropout: 0.3, historyDropout: 0.6, userIdInput: false, userHistory: true });
  });
});
