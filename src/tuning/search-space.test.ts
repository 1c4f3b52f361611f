import { describe, expect, it } from 'vitest';
import { modelObjective } from '../model/objective.js';
import { candidateSampler, describeCandidate, SEARCH_RANGES, targetOnlySearchSpace, transferSearchSpace } from './search-space.js';

describe('search space', () => {
  it('offers each PARTIAL(N) that differs from FEATURE_EXTRACTION, and the objective\'s own settings', () => {
    const softmax = transferSearchSpace(modelObjective('softmax'), 2, true);
    expect(softmax.strategies.map((s) => describeCandidate({ strategy: s.strategy, freezeLayers: s.freezeLayers }))).toEqual(['FEATURE_EXTRACTION', 'PARTIAL(0)', 'PARTIAL(2)', 'PARTIAL(3)', 'FULL', 'JOINT']);
    expect(softmax.settings).toEqual(['learningRate', 'temperature', 'l2', 'userIdDropout', 'historyDropout']);
    const als = transferSearchSpace(modelObjective('implicit-als'), 0, false);
    expect(als.strategies.map((s) => s.strategy)).toEqual(['FEATURE_EXTRACTION', 'FULL']);
    expect(als.replay).toBe(false);
    expect(als.settings).toEqual(['alsAlpha', 'alsRegularization']);
    // The popularity term's weight is profiled on each trial (POPULARITY_PROFILE), never drawn.
    for (const objective of ['implicit-als', 'hybrid', 'softmax'] as const) expect(modelObjective(objective).tuned.settings).not.toContain('popularityWeight');
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

  it('draws the objective too when a target-only space has several, each with its own settings, after one anchor per objective', () => {
    const objectives = (['implicit-als', 'hybrid', 'softmax'] as const).map((name) => modelObjective(name));
    const space = targetOnlySearchSpace(objectives[0]!, objectives);
    const anchors = [{ objective: 'implicit-als' as const, alsAlpha: 40, alsRegularization: 0.1 }, { objective: 'hybrid' as const, alsAlpha: 40, alsRegularization: 0.1, learningRate: 0.003 }];
    const sample = candidateSampler(space, 7, anchors);
    expect(sample(0)).toEqual(anchors[0]);
    expect(sample(1)).toEqual(anchors[1]);
    const draws = Array.from({ length: 60 }, (_, n) => sample(n + 2));
    expect(new Set(draws.map((d) => d.objective))).toEqual(new Set(['implicit-als', 'hybrid', 'softmax']));
    for (const d of draws) {
      const own = modelObjective(d.objective!).tuned.settings;
      // An objective that offers several scorings has one drawn too.
      const scoring = modelObjective(d.objective!).scorings.length > 1 ? ['scoring'] : [];
      expect(Object.keys(d).sort()).toEqual(['objective', ...own, ...scoring].sort());
      expect(d.strategy).toBeUndefined();
    }
    expect(describeCandidate(draws.find((d) => d.objective === 'hybrid')!)).toMatch(/^target only, hybrid, alsAlpha [\d.]+, alsRegularization [\d.]+, learningRate [\d.e-]+$/);
    // One objective: no objective drawn, the draws as before.
    expect(targetOnlySearchSpace(objectives[0]!, [objectives[0]!]).objectives).toBeUndefined();
    expect(candidateSampler(targetOnlySearchSpace(objectives[0]!), 7)(3)).not.toHaveProperty('objective');
  });

  it('draws the softmax towers\' two dropouts over their ranges (the user ID row and the history items)', () => {
    const sample = candidateSampler(targetOnlySearchSpace(modelObjective('softmax')), 11);
    const draws = Array.from({ length: 60 }, (_, n) => sample(n));
    for (const name of ['userIdDropout', 'historyDropout'] as const) {
      const values = draws.map((d) => d[name]!);
      for (const v of values) {
        expect(v).toBeGreaterThanOrEqual(SEARCH_RANGES[name].min);
        expect(v).toBeLessThanOrEqual(SEARCH_RANGES[name].max);
      }
      // Spread over the range, not stuck at one end.
      expect(Math.min(...values)).toBeLessThan(0.3);
      expect(Math.max(...values)).toBeGreaterThan(0.6);
    }
  });

  it('draws the softmax towers\' scoring as a category (both, about half each); never for an objective with one scoring or for a transfer', () => {
    const softmax = modelObjective('softmax');
    const sample = candidateSampler(targetOnlySearchSpace(softmax), 5);
    const scorings = Array.from({ length: 200 }, (_, n) => sample(n).scoring);
    const ip = scorings.filter((s) => s === 'inner-product').length;
    expect(scorings.filter((s) => s === 'cosine').length + ip).toBe(200);
    expect(ip).toBeGreaterThan(70);
    expect(ip).toBeLessThan(130);
    expect(describeCandidate(sample(0))).toMatch(/, scoring (cosine|inner-product)$/);
    // The numeric settings draw as they did before the scoring was searched (it is drawn after them).
    const { scoring: _, ...numeric } = sample(3);
    const { scorings: __, ...withoutScorings } = targetOnlySearchSpace(softmax);
    expect(candidateSampler(withoutScorings, 5)(3)).toEqual(numeric);
    // Implicit ALS scores by inner product only; a transfer keeps the scoring its frozen layers were trained for.
    expect(candidateSampler(targetOnlySearchSpace(modelObjective('implicit-als')), 5)(3)).not.toHaveProperty('scoring');
    const transfer = candidateSampler(transferSearchSpace(softmax, 2, true), 5);
    for (let n = 0; n < 40; n++) expect(transfer(n)).not.toHaveProperty('scoring');
  });
});
