import type { JobPhase, JobProgress } from './job-record.js';

/** What a run will do: its training phases in order, each `epochs` long at `batchSize`. */
export interface ProgressPlan {
  trainingPhases: readonly JobPhase[];
  epochs: number;
  batchSize: number;
}

/** A step as the training child reports it (a copy of the loop's StepProgress). */
export interface StepReport {
  epoch: number;
  step: number;
  steps: number;
  loss: number;
  examplesPerSecond: number;
}

/**
 * Folds the child's step, epoch and phase reports into the `JobProgress` snapshot the job
 * row shows, with an ETA over the remaining training phases (early stopping can only make
 * the run shorter, so the ETA is an upper bound at the current speed).
 *
 * @example
 * const t = new ProgressTracker({ trainingPhases: ['training'], epochs: 10, batchSize: 256 });
 * t.step({ epoch: 1, step: 10, steps: 100, loss: 4.2, examplesPerSecond: 25_600 });
 * t.snapshot().etaSeconds; // (90 + 9 * 100) steps / 100 steps/s = 9.9
 */
export class ProgressTracker {
  private current: JobProgress;
  private readonly started: number;

  constructor(
    private readonly plan: ProgressPlan,
    private readonly now: () => number = Date.now,
  ) {
    this.started = now();
    this.current = { phase: 'preparing', epoch: 0, epochs: plan.epochs, step: 0, steps: 0, loss: null, examplesPerSecond: null, etaSeconds: null, elapsedSeconds: 0 };
  }

  phase(phase: JobPhase): void {
    if (phase === this.current.phase) return;
    const training = this.plan.trainingPhases.includes(phase);
    // A new training phase starts from epoch 0; steps per epoch are kept as the best guess for it.
    this.current = { ...this.current, phase, epoch: training ? 0 : this.current.epoch, step: training ? 0 : this.current.step, etaSeconds: training ? this.current.etaSeconds : null };
  }

  step(report: StepReport): void {
    const phase = this.plan.trainingPhases.includes(this.current.phase) ? this.current.phase : this.plan.trainingPhases[0]!;
    this.current = {
      ...this.current,
      phase,
      epoch: report.epoch,
      step: report.step,
      steps: report.steps,
      loss: Number.isFinite(report.loss) ? report.loss : null,
      examplesPerSecond: Math.round(report.examplesPerSecond),
      etaSeconds: this.eta(phase, report),
    };
  }

  /** Epoch ends carry the epoch's mean loss; the position is already known from its last step. */
  epoch(report: { epoch: number; epochs: number; loss: number }): void {
    this.current = { ...this.current, epoch: report.epoch, epochs: report.epochs, loss: Number.isFinite(report.loss) ? report.loss : this.current.loss };
  }

  snapshot(): JobProgress {
    return { ...this.current, elapsedSeconds: Math.round((this.now() - this.started) / 100) / 10 };
  }

  private eta(phase: JobPhase, report: StepReport): number | null {
    const stepsPerSecond = report.examplesPerSecond / this.plan.batchSize;
    if (!(stepsPerSecond > 0) || report.steps <= 0) return null;
    const index = this.plan.trainingPhases.indexOf(phase);
    const laterPhases = index < 0 ? 0 : this.plan.trainingPhases.length - 1 - index;
    const remaining = (report.steps - report.step) + (this.plan.epochs - report.epoch) * report.steps + laterPhases * this.plan.epochs * report.steps;
    return Math.round((remaining / stepsPerSecond) * 10) / 10;
  }
}
