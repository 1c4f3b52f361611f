import { describe, expect, it } from 'vitest';
import { carveKeepsHistories, defaultUnlessBeaten, rowInitProfiled, scoringOnCarve, scoringProfiled } from './pretrain.workflow.js';

/** A carve score of per-user values (the mean is the score). */
function carve(values: number[]) {
  const perUser = Float32Array.from(values);
  return { value: values.reduce((a, b) => a + b, 0) / values.length, perUser };
}

describe('scoringOnCarve', () => {
  const users = 400;
  const base = Array.from({ length: users }, (_, u) => (u % 4 === 0 ? 1 : 0));

  it('keeps the default unless another scoring is better with its gain interval above 0', () => {
    // Better on every user it differs: a clear gain.
    const clear = base.map((v, u) => (u % 4 === 1 ? 1 : v));
    const chosen = scoringOnCarve([{ scoring: 'cosine', carve: carve(base) }, { scoring: 'inner-product', carve: carve(clear) }], 7);
    expect(chosen.chosen).toBe(1);
    expect(chosen.gain!.scoring).toBe('inner-product');
    expect(chosen.gain!.mean).toBeCloseTo(0.25, 5);
    expect(chosen.gain!.ci95[0]).toBeGreaterThan(0);
  });

  it('keeps the default on a higher mean that is noise (the interval spans 0), and on a lower one', () => {
    // Two users gained, one lost: the mean is above the default's, the interval is not.
    const noisy = base.map((v, u) => (u === 1 || u === 2 ? 1 : u === 0 ? 0 : v));
    const kept = scoringOnCarve([{ scoring: 'cosine', carve: carve(base) }, { scoring: 'inner-product', carve: carve(noisy) }], 7);
    expect(carve(noisy).value).toBeGreaterThan(carve(base).value);
    expect(kept.chosen).toBe(0);
    expect(kept.gain!.ci95[0]).toBeLessThanOrEqual(0);
    const worse = base.map(() => 0);
    expect(scoringOnCarve([{ scoring: 'cosine', carve: carve(base) }, { scoring: 'inner-product', carve: carve(worse) }], 7).chosen).toBe(0);
  });

  it('without the interval (the row start), the higher score wins, a tie keeps the default', () => {
    const noisy = base.map((v, u) => (u === 1 || u === 2 ? 1 : u === 0 ? 0 : v));
    const fits = (other: number[]) => [{ key: 'implicit-als', carve: carve(base) }, { key: 'random', carve: carve(other) }];
    const kept = defaultUnlessBeaten(fits(noisy), 7, { interval: false });
    expect(kept.chosen).toBe(1);
    expect(kept.gain!.key).toBe('random');
    expect(kept.gain!.ci95[0]).toBeLessThanOrEqual(0);
    // With the interval asked (the scoring's rule), the same fits keep the default.
    expect(defaultUnlessBeaten(fits(noisy), 7).chosen).toBe(0);
    expect(defaultUnlessBeaten(fits(base), 7, { interval: false }).chosen).toBe(0);
    expect(defaultUnlessBeaten(fits(base.map(() => 0)), 7, { interval: false }).chosen).toBe(0);
  });

  it('with one fit, chooses it and reports no gain', () => {
    expect(scoringOnCarve([{ scoring: 'cosine', carve: carve(base) }], 7)).toEqual({ chosen: 0 });
  });

  it('chooses only on a carve that leaves the median carve user two training events or more (not on sparse data), and only with scoring left out', () => {
    const events = (perUser: number[]) => {
      const users = perUser.flatMap((n, u) => Array.from({ length: n }, () => u));
      return { users: Int32Array.from(users), items: new Int32Array(users.length) };
    };
    const carveOf = (users: number) => ({ users: Int32Array.from({ length: users }, (_, u) => u), items: new Int32Array(users) });
    // Training events left after the carve: a median of 2 (1, 2, 2, 5, 9) is enough; a median of 1 (sparse: 1, 1, 1, 2, 9) is not.
    expect(carveKeepsHistories({ train: events([1, 2, 2, 5, 9]), validation: carveOf(5) })).toBe(true);
    expect(carveKeepsHistories({ train: events([1, 1, 1, 2, 9]), validation: carveOf(5) })).toBe(false);
    expect(carveKeepsHistories({ train: events([3, 3]), validation: undefined })).toBe(false);
    const dense = { train: events([4, 4, 4]), validation: carveOf(3) };
    expect(scoringProfiled({ objective: 'softmax' }, dense)).toBe(true);
    expect(scoringProfiled({ objective: 'softmax', scoring: 'cosine' }, dense)).toBe(false);
    expect(scoringProfiled({ objective: 'implicit-als' }, dense)).toBe(false);
    expect(scoringProfiled({ objective: 'softmax' }, { train: events([1, 1, 1]), validation: carveOf(3) })).toBe(false);
    // The row start: the same carve rule, the softmax only (the others solve or graft their rows), only when left out.
    expect(rowInitProfiled({}, dense)).toBe(true);
    expect(rowInitProfiled({ objective: 'softmax', rowInit: 'implicit-als' }, dense)).toBe(false);
    expect(rowInitProfiled({ objective: 'softmax', rowInit: 'random' }, dense)).toBe(false);
    expect(rowInitProfiled({ objective: 'hybrid' }, dense)).toBe(false);
    expect(rowInitProfiled({ objective: 'softmax' }, { train: events([1, 1, 1]), validation: carveOf(3) })).toBe(false);
  });
});
