import { describe, expect, it } from 'vitest';
import { successiveHalving, type Trial } from './successive-halving.js';

/** A configuration is its true quality; a trial's score is that quality (the scheduler's input, not a model). */
const quality = (n: number) => [0.3, 0.9, 0.1, 0.5, 0.8, 0.2, 0.7, 0.4, 0.6][n]!;

describe('successiveHalving', () => {
  it('promotes the top third of each rung at three times the budget and picks the best trial (on ties the top rung)', async () => {
    const calls: Array<[number, number]> = [];
    const { trials, best } = await successiveHalving<number>({
      sample: (n) => n,
      evaluate: async (c, resource) => {
        calls.push([c, resource]);
        return quality(c);
      },
      minResource: () => 2,
      budget: { kind: 'trials', trials: 9 },
      eta: 3,
      rungs: 3,
    });
    const rung = (r: number) => trials.filter((t) => t.rung === r).map((t) => t.config).sort();
    expect(rung(0)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    // ASHA promotes as soon as a config is in the top third of its rung so far: 1 (after 0..2),
    // 4 (after 0..5, top 2 = 1, 4), 6 (after 0..8, top 3 = 1, 4, 6); then the best of those.
    expect(rung(1)).toEqual([1, 4, 6]);
    expect(rung(2)).toEqual([1]);
    expect(trials.filter((t) => t.rung === 1).every((t) => t.resource === 6)).toBe(true);
    expect(trials.find((t) => t.rung === 2)!.resource).toBe(18);
    expect(best.config).toBe(1);
    expect(best.rung).toBe(2);
    expect(calls.length).toBe(13);
  });

  it('picks a lower rung\'s trial when more budget made the configuration worse (a top that overfits with more epochs)', async () => {
    const { trials, best } = await successiveHalving<number>({
      sample: (n) => n,
      // The quality peaks at 3 epochs and falls at 9.
      evaluate: async (c, epochs) => quality(c) - (epochs > 3 ? 0.5 : 0) + (epochs === 3 ? 0.05 : 0),
      minResource: () => 1,
      budget: { kind: 'trials', trials: 9 },
      eta: 3,
      rungs: 3,
    });
    expect(trials.some((t) => t.rung === 2)).toBe(true);
    expect(best).toMatchObject({ config: 1, rung: 1, resource: 3 });
    expect(best.score).toBeCloseTo(0.95, 10);
  });

  it('never promotes a configuration that is not in the top 1/eta of its rung', async () => {
    const { trials } = await successiveHalving<number>({
      sample: (n) => n,
      evaluate: async (c) => quality(c),
      minResource: () => 1,
      budget: { kind: 'trials', trials: 9 },
      eta: 3,
      rungs: 2,
    });
    const promoted = new Set(trials.filter((t) => t.rung === 1).map((t) => t.config));
    const rung0 = trials.filter((t) => t.rung === 0).sort((a, b) => b.score - a.score);
    // The 3 best of 9 (1, 4, 6) and none of the 6 worst.
    expect([...promoted].sort()).toEqual(rung0.slice(0, 3).map((t) => t.config).sort());
  });

  it('stops a minutes budget at the clock, keeps the finished trials and reports the stop', async () => {
    let clock = 0;
    const seen: Trial<number>[] = [];
    const result = await successiveHalving<number>({
      sample: (n) => n,
      evaluate: async (c) => {
        clock += 25_000; // every trial takes 25 s of the fake clock
        return quality(c);
      },
      minResource: () => 1,
      budget: { kind: 'minutes', minutes: 1 },
      eta: 3,
      rungs: 3,
      now: () => clock,
      onTrial: (t) => seen.push(t),
    });
    expect(result.stoppedByClock).toBe(true);
    expect(result.trials.length).toBe(3); // 0 s, 25 s, 50 s start; the 4th would start at 75 s
    expect(seen).toEqual(result.trials);
    expect(result.best.config).toBe(1);
  });

  it('runs a minutes budget on the real clock, whose milliseconds are fractional (AbortSignal.timeout takes whole ones)', async () => {
    const result = await successiveHalving<number>({
      sample: (n) => n,
      evaluate: async (c) => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        return quality(c);
      },
      minResource: () => 1,
      budget: { kind: 'minutes', minutes: 0.005 },
      eta: 3,
      rungs: 3,
    });
    expect(result.stoppedByClock).toBe(true);
    expect(result.trials.length).toBeGreaterThan(0);
  });

  it('aborts with CANCELLED and refuses bad eta', async () => {
    const controller = new AbortController();
    const run = successiveHalving<number>({
      sample: (n) => n,
      evaluate: async (c) => {
        if (c === 2) controller.abort(new Error('user asked'));
        return quality(c);
      },
      minResource: () => 1,
      budget: { kind: 'trials', trials: 9 },
      eta: 3,
      rungs: 3,
      signal: controller.signal,
    });
    await expect(run).rejects.toThrow(/search cancelled: user asked/);
    await expect(successiveHalving<number>({ sample: (n) => n, evaluate: async () => 0, minResource: () => 1, budget: { kind: 'trials', trials: 3 }, eta: 1, rungs: 3 })).rejects.toThrow(/eta = 1 must be a whole number >= 2/);
  });
});
