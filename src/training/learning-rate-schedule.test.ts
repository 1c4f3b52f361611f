import { describe, expect, it } from 'vitest';
import { learningRateAt, validateSchedule } from './learning-rate-schedule.js';

describe('learningRateAt', () => {
  it('warms up linearly, then decays along a cosine to minFactor', () => {
    const s = { warmupSteps: 4, decay: 'cosine' as const, minFactor: 0.1 };
    expect([0, 1, 2, 3].map((t) => learningRateAt(1, t, 104, s))).toEqual([0.25, 0.5, 0.75, 1]);
    expect(learningRateAt(1, 4, 104, s)).toBeCloseTo(1, 10);
    expect(learningRateAt(1, 103, 104, s)).toBeCloseTo(0.1, 10);
    expect(learningRateAt(1, 4 + 49.5, 104, s)).toBeCloseTo(0.55, 10);
  });

  it('decays by gamma every stepSize steps, or stays constant', () => {
    const s = { decay: 'step' as const, stepSize: 10, gamma: 0.5 };
    expect([0, 9, 10, 25].map((t) => learningRateAt(0.2, t, 100, s))).toEqual([0.2, 0.2, 0.1, 0.05]);
    expect(learningRateAt(0.2, 77, 100, { decay: 'none' })).toBe(0.2);
    expect(learningRateAt(0.2, 77, 100)).toBe(0.2);
  });

  it('rejects step decay without a step size', () => {
    expect(() => validateSchedule({ decay: 'step' })).toThrow(/stepSize/);
    expect(() => validateSchedule({ decay: 'cosine', warmupSteps: -1 })).toThrow(/warmupSteps/);
  });
});
