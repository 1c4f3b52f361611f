import { GraftError } from '../errors.js';

export interface EarlyStoppingOptions {
  /** Epochs without improvement before stopping. */
  patience: number;
  /** Put back the weights of the best epoch when training ends. */
  restoreBest: boolean;
  /** An improvement must beat the best by more than this (default 0). */
  minDelta?: number;
}

/**
 * Tracks a validation metric where higher is better and says when to stop: after
 * `patience` epochs in a row without beating the best by more than `minDelta`.
 *
 * @example
 * const stopper = new EarlyStopping({ patience: 2, restoreBest: true });
 * const { improved, stop } = stopper.update(recallAt20, epoch);
 */
export class EarlyStopping {
  best = -Infinity;
  bestEpoch = 0;
  private sinceBest = 0;
  private readonly patience: number;
  private readonly minDelta: number;

  constructor(options: EarlyStoppingOptions) {
    if (!Number.isInteger(options.patience) || options.patience < 0) {
      throw new GraftError('BAD_INPUT', `earlyStopping.patience = ${options.patience}; use an integer >= 0 (epochs)`);
    }
    this.patience = options.patience;
    this.minDelta = options.minDelta ?? 0;
  }

  /** Records an epoch's metric. NaN never counts as an improvement. */
  update(value: number, epoch: number): { improved: boolean; stop: boolean } {
    const improved = value > this.best + this.minDelta || (this.best === -Infinity && Number.isFinite(value));
    if (improved) {
      this.best = value;
      this.bestEpoch = epoch;
      this.sinceBest = 0;
    } else {
      this.sinceBest++;
    }
    return { improved, stop: !improved && this.sinceBest >= Math.max(1, this.patience) };
  }
}
