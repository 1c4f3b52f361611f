import { describe, expect, it } from 'vitest';
import { modelObjective } from '../model/objective.js';
import { candidateSampler, describeCandidate, SEARCH_RANGES, targetOnlySearchSpace, transferSearchSpace } from './search-space.js';

describe('search space', () => {
  it('offers each PARTIAL(N) that differs from FEATURE_EXTRACTION, and the objective\'s own settings', () => {
    const softmax = transferSearchSpace(modelObjective('softmax'), 2, true);
    expect(softmax.strategies.map((s) => describeCandidate({ strategy: s.strategy, freezeLayers: s.freezeLayers }))).toEqual(['FEATURE_EXTRACTION', 'PARTIAL(0)', 'PARTIAL(2)', 'PARTIAL(3)', 'FULL', 'JOINT']);
    expect(softmax.settings).toEqual(['learningRate', 'temperature', 'l2']);
    const als = transferSearchSpace(modelObjective('implicit-als'), 0, false);
    expect(als.strategies.map((s) => s.strategy)).toEqual(['FEATURE_EXTRACTION', 'FULL']);
    expect(als.replay).toBe(false);
    expect(als.settings).toEqual(['alsAlpha', 'alsRegularization', 'popularityWeight']);
    expect(transferSearchSpace(modelObjective('hybrid'), 2, true).settings).toEqual(['alsAlpha', 'alsRegularization', 'learningRate', 'popularityWeight']);
    expect(targetOnlySearchSpace(modelObjective('hybrid')).settings).toContain('popularityWeight');
    expect(targetOnlySearchSpace(modelObjective('implicit-als')).strategies).toEqual([]);
    expect(targetOnlySearchSpace(modelObjective('implicit-als')).settings).toContain('popularityWeight');
  });

  it('draws the popularity weight for the ALS objectives: exactly 0 about a quarter of the time, else log-uniform over [1e-3, 1]; the anchor keeps 0', () => {
    for (const objective of ['implicit-als', 'hybrid'] as const) {
      for (const space of [transferSearchSpace(modelObjective(objective), 0, true), targetOnlySearchSpace(modelObjective(objective))]) {
        const sample = candidateSampler(space, 7, { popularityWeight: 0, alsAlpha: 40 });
        expect(sample(0).popularityWeight).toBe(0);
        const betas = Array.from({ length: 400 }, (_, n) => sample(n + 1).popularityWeight!);
        const zeros = betas.filter((b) => b === 0).length;
        expect(zeros).toBeGreaterThan(60);
        expect(zeros).toBeLessThan(140);
        const drawn = betas.filter((b) => b > 0);
        expect(Math.min(...drawn)).toBeGreaterThanOrEqual(1e-3);
        expect(Math.max(...drawn)).toBeLessThanOrEqual(1);
        // Log-uniform: about a third of the non-zero draws in each decade.
        const small = drawn.filter((b) => b < 0.01).length / drawn.length;
        expect(small).toBeGreaterThan(0.2);
        expect(small).toBeLessThan(0.46);
      }
    }
    const softmax = candidateSampler(transferSearchSpace(modelObjective('softmax'), 2, true), 7);
    expect(Array.from({ length: 20 }, (_, n) => softmax(n + 1).popularityWeight)).toEqual(new Array(20).fill(undefined));
  });

  it('draws reproducibly from a seed, within the ranges, with the anchor first', () => {
    const space = transferSearchSpace(modelObjective('implicit-als'), 0, false);
    const a = candidateSampler(space, 42, { strategy: 'FEATURE_EXTRACTION', alsAlpha: 40 });
    const b = candidateSampler(space, 42, { strategy: 'FEATURE_EXTRACTION', alsAlpha: 40 });
    const c = candidateSampler(space, 43);
    const draws = Array.from({ length: 40 }, (_, n) => a(n));
    expect(draws).toEqual(Array.from({ length: 40 }, (_, n) => b(n)));
    expect(draws[0]).toEqual({ strategy: 'FEATURE_EXTRACTION', alsAlpha: 40 });
    expect(new Set(draws.map((d) => d.strategy))).toEqual(new Set(['FEATURE_EXTRACTION', 'FULL']));
    expect(draws.slice(1)).not.toEqual(Array.from({ length: 39 }, (_, n) => c(n + 1)));
    for (const d of draws.slice(1)) {
      expect(d.alsAlpha!).toBeGreaterThanOrEqual(SEARCH_RANGES.alsAlpha.min);
      expect(d.alsAlpha!).toBeLessThanOrEqual(SEARCH_RANGES.alsAlpha.max);
      expect(d.alsRegularization!).toBeGreaterThanOrEqual(SEARCH_RANGES.alsRegularization.min);
    }
    // Every strategy, no replay weight for JOINT, and a spread of alpha over the log range.
    const withReplay = candidateSampler(transferSearchSpace(modelObjective('implicit-als'), 0, true), 42);
    const many = Array.from({ length: 40 }, (_, n) => withReplay(n + 1));
    expect(new Set(many.map((d) => d.strategy))).toEqual(new Set(['FEATURE_EXTRACTION', 'FULL', 'JOINT']));
    expect(many.filter((d) => d.strategy === 'JOINT').every((d) => d.replayWeight === undefined)).toBe(true);
    expect(many.filter((d) => d.strategy !== 'JOINT').every((d) => d.replayWeight !== undefined)).toBe(true);
    expect(draws.some((d) => d.alsAlpha! < 10) && draws.some((d) => d.alsAlpha! > 10)).toBe(true);
  });
});
