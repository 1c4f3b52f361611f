import { GraftError } from '../errors.js';
import type { NamedWeight } from '../model/named-weight.js';
import { EarlyStopping, type EarlyStoppingOptions } from './early-stopping.js';

/** What the tracker needs from a model: a snapshot of its weights and a way to put one back. */
export interface SnapshotModel {
  exportWeights(): NamedWeight[];
  loadWeights(weights: readonly NamedWeight[]): void;
}

/**
 * Per-epoch validation, early stopping and best-epoch restore, shared by every training loop
 * (`train` with gradient steps, `fitImplicitAls` with row solves), so both stop and
 * restore by the same rule.
 *
 * @example
 * const tracker = new BestEpochTracker(validate, { patience: 2, restoreBest: true });
 * for (let epoch = 1; epoch <= epochs; epoch++) {
 *   runEpoch();
 *   const { stop } = await tracker.afterEpoch(model, epoch, epochs);
 *   if (stop) break;
 * }
 * tracker.restore(model, epochsRun);
 */
export class BestEpochTracker<M extends SnapshotModel> {
  bestEpoch: number | undefined;
  bestValidation = -Infinity;
  private readonly stopper: EarlyStopping | undefined;
  private readonly restoreBest: boolean;
  private best: NamedWeight[] | undefined;

  constructor(
    private readonly validate: ((model: M, epoch: number) => Promise<number> | number) | undefined,
    earlyStopping: EarlyStoppingOptions | undefined,
  ) {
    if (earlyStopping && !validate) {
      throw new GraftError('BAD_INPUT', 'earlyStopping needs a validate function (e.g. Recall@20 on validation users)');
    }
    this.stopper = earlyStopping ? new EarlyStopping(earlyStopping) : undefined;
    this.restoreBest = earlyStopping?.restoreBest ?? false;
  }

  /** Validates the epoch just trained; `stop` says whether early stopping ends the run here. */
  async afterEpoch(model: M, epoch: number, epochs: number): Promise<{ validation?: number; stop: boolean }> {
    if (!this.validate) return { stop: false };
    const validation = await this.validate(model, epoch);
    let stop = false;
    if (this.stopper) {
      const { improved, stop: patienceOut } = this.stopper.update(validation, epoch);
      if (improved && this.restoreBest) this.best = model.exportWeights();
      stop = patienceOut && epoch < epochs;
    }
    // Same rule as early stopping (strict improvement), so bestEpoch is the epoch restoreBest restores.
    if (this.stopper ? this.stopper.bestEpoch === epoch : validation > this.bestValidation || this.bestEpoch === undefined) {
      this.bestValidation = validation;
      this.bestEpoch = epoch;
    }
    return { validation, stop };
  }

  /** Puts back the best epoch's weights (with `restoreBest`) when the last epoch run was not the best. */
  restore(model: M, epochsRun: number): void {
    if (this.restoreBest && this.best && this.bestEpoch !== epochsRun) model.loadWeights(this.best);
  }

  get result(): { bestEpoch?: number; bestValidation?: number } {
    return { bestEpoch: this.bestEpoch, bestValidation: this.bestEpoch === undefined ? undefined : this.bestValidation };
  }
}
