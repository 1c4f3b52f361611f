import { describe, expect, it } from 'vitest';
import { ProgressTracker } from './job-progress.js';

describe('ProgressTracker', () => {
  it('estimates the time left from the step rate over the remaining epochs of the phase', () => {
    let now = 1000;
    const t = new ProgressTracker({ trainingPhases: ['training'], epochs: 10, batchSize: 256 }, () => now);
    expect(t.snapshot()).toMatchObject({ phase: 'preparing', epoch: 0, etaSeconds: null });
    now = 3000;
    t.step({ epoch: 1, step: 10, steps: 100, loss: 4.2, examplesPerSecond: 25_600 });
    // 100 steps/s; 90 left in epoch 1 and 9 more epochs of 100.
    expect(t.snapshot()).toMatchObject({ phase: 'training', epoch: 1, step: 10, steps: 100, loss: 4.2, examplesPerSecond: 25_600, etaSeconds: 9.9, elapsedSeconds: 2 });
  });

  it('counts the baseline phase of a transfer in the ETA and restarts epochs when it begins', () => {
    const t = new ProgressTracker({ trainingPhases: ['transfer', 'baseline'], epochs: 2, batchSize: 100 });
    t.phase('transfer');
    t.step({ epoch: 2, step: 10, steps: 10, loss: 1, examplesPerSecond: 1000 });
    // transfer done; the baseline's 2 x 10 steps remain at 10 steps/s
    expect(t.snapshot().etaSeconds).toBe(2);
    t.phase('baseline');
    expect(t.snapshot()).toMatchObject({ phase: 'baseline', epoch: 0, step: 0 });
    t.step({ epoch: 1, step: 5, steps: 10, loss: 2, examplesPerSecond: 1000 });
    expect(t.snapshot().etaSeconds).toBe(1.5);
    t.phase('evaluation');
    expect(t.snapshot()).toMatchObject({ phase: 'evaluation', etaSeconds: null });
  });

  it('keeps the last finite loss when an epoch reports NaN', () => {
    const t = new ProgressTracker({ trainingPhases: ['training'], epochs: 1, batchSize: 1 });
    t.step({ epoch: 1, step: 1, steps: 1, loss: 3, examplesPerSecond: 0 });
    t.epoch({ epoch: 1, epochs: 1, loss: Number.NaN });
    expect(t.snapshot()).toMatchObject({ loss: 3, etaSeconds: null });
  });
});
