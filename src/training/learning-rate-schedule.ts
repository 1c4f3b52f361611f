import { GraftError } from '../errors.js';

/**
 * How the learning rate moves over a run: optional linear warmup, then cosine decay to
 * `minFactor` of the base rate at the last step, step decay (x gamma every stepSize
 * steps), or constant.
 *
 * @example
 * const schedule: LearningRateSchedule = { warmupSteps: 100, decay: 'cosine' };
 */
export interface LearningRateSchedule {
  /** Steps of linear warmup from base/warmupSteps to base (default 0). */
  warmupSteps?: number;
  decay: 'cosine' | 'step' | 'none';
  /** 'step' decay: steps between decays (required for 'step'). */
  stepSize?: number;
  /** 'step' decay: factor per decay (default 0.5). */
  gamma?: number;
  /** 'cosine' decay: final rate as a share of the base rate (default 0). */
  minFactor?: number;
}

/** Checks a schedule once, before training; throws BAD_INPUT naming the bad field. */
export function validateSchedule(schedule: LearningRateSchedule | undefined): void {
  if (!schedule) return;
  const warmup = schedule.warmupSteps ?? 0;
  if (!Number.isInteger(warmup) || warmup < 0) throw new GraftError('BAD_INPUT', `schedule.warmupSteps = ${warmup}; use an integer >= 0`);
  if (!['cosine', 'step', 'none'].includes(schedule.decay)) {
    throw new GraftError('BAD_INPUT', `schedule.decay = "${schedule.decay}"; use "cosine", "step" or "none"`);
  }
  if (schedule.decay === 'step' && !(Number.isInteger(schedule.stepSize) && schedule.stepSize! > 0)) {
    throw new GraftError('BAD_INPUT', `schedule.stepSize = ${schedule.stepSize}; step decay needs an integer stepSize > 0 (in steps)`);
  }
  if (schedule.gamma !== undefined && !(schedule.gamma > 0)) throw new GraftError('BAD_INPUT', `schedule.gamma = ${schedule.gamma}; use a factor > 0`);
}

/**
 * Learning rate at 0-based `step` of a run of `totalSteps` steps.
 *
 * @example
 * learningRateAt(0.01, 50, 100, { decay: 'cosine' }); // 0.005
 */
export function learningRateAt(base: number, step: number, totalSteps: number, schedule?: LearningRateSchedule): number {
  if (!schedule) return base;
  const warmup = schedule.warmupSteps ?? 0;
  if (step < warmup) return (base * (step + 1)) / warmup;
  const after = step - warmup;
  switch (schedule.decay) {
    case 'cosine': {
      const span = Math.max(1, totalSteps - warmup - 1);
      const progress = Math.min(1, after / span);
      const min = schedule.minFactor ?? 0;
      return base * (min + (1 - min) * 0.5 * (1 + Math.cos(Math.PI * progress)));
    }
    case 'step':
      return base * Math.pow(schedule.gamma ?? 0.5, Math.floor(after / schedule.stepSize!));
    default:
      return base;
  }
}
