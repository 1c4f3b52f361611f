import { describe, expect, it } from 'vitest';
import { EarlyStopping } from './early-stopping.js';

describe('EarlyStopping', () => {
  it('stops after `patience` epochs without a strict improvement', () => {
    const stopper = new EarlyStopping({ patience: 2, restoreBest: true });
    const steps = [0.1, 0.3, 0.3, 0.2].map((v, i) => stopper.update(v, i + 1));
    expect(steps).toEqual([
      { improved: true, stop: false },
      { improved: true, stop: false },
      { improved: false, stop: false },
      { improved: false, stop: true },
    ]);
    expect(stopper.best).toBe(0.3);
    expect(stopper.bestEpoch).toBe(2);
  });

  it('honours minDelta and never counts NaN as an improvement', () => {
    const stopper = new EarlyStopping({ patience: 1, restoreBest: false, minDelta: 0.05 });
    expect(stopper.update(0.5, 1).improved).toBe(true);
    expect(stopper.update(0.52, 2)).toEqual({ improved: false, stop: true });
    const nan = new EarlyStopping({ patience: 3, restoreBest: false });
    expect(nan.update(Number.NaN, 1).improved).toBe(false);
  });
});
