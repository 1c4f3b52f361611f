import { GraftError } from '../errors.js';
import type { ResumableRng } from '../dataset/random.js';

/**
 * How new parameters are drawn. `normal`: N(0, scale^2); `uniform`: U(-scale, scale);
 * `zeros`: all 0 (scale ignored).
 *
 * @example
 * const init: Initializer = { kind: 'normal', scale: 0.05 };
 */
export interface Initializer {
  kind: 'normal' | 'uniform' | 'zeros';
  scale: number;
}

/** Fills `target[from, to)` from the initialiser with the given generator. */
export function fillInitial(target: Float32Array, init: Initializer, rng: ResumableRng, from = 0, to = target.length): void {
  if (!(init.scale >= 0) || !Number.isFinite(init.scale)) {
    throw new GraftError('BAD_INPUT', `initialiser scale ${init.scale} is not a finite number >= 0; use e.g. { kind: 'normal', scale: 0.05 }`);
  }
  switch (init.kind) {
    case 'normal':
      for (let i = from; i < to; i++) target[i] = rng.normal() * init.scale;
      return;
    case 'uniform':
      for (let i = from; i < to; i++) target[i] = (rng.next() * 2 - 1) * init.scale;
      return;
    case 'zeros':
      target.fill(0, from, to);
      return;
    default:
      throw new GraftError('BAD_INPUT', `unknown initialiser kind "${String((init as Initializer).kind)}"; use normal, uniform or zeros`);
  }
}

/** Glorot/Xavier uniform limit for a dense kernel [fanIn, fanOut]. */
export function glorotScale(fanIn: number, fanOut: number): number {
  return Math.sqrt(6 / (fanIn + fanOut));
}
