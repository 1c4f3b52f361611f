import type { BackendInfo } from '../model/backend.js';
import type { TransferReport } from '../transfer/transfer-report.js';
import type { PretrainSettings } from '../workflows/pretrain.workflow.js';
import type { SearchBudget } from '../tuning/search-budget.js';
import type { PreparedDomain } from '../workflows/prepared-domain.js';
import type { TrainedModel } from '../workflows/trained-model.js';
import type { PreparedTransfer, TransferSettings } from '../workflows/transfer.workflow.js';
import type { JobDevice, JobPhase } from './job-record.js';
import type { SearchTrialRecord } from '../transfer/transfer-report.js';
import type { StepReport } from './job-progress.js';

/**
 * Messages between a job's parent (database side) and its training child (compute side).
 * The IPC channel uses `serialization: 'advanced'` (structured clone), so typed arrays
 * cross as typed arrays.
 */

/** The compute a child runs: prepared typed arrays plus the workflow's settings. */
export type TrainingTask =
  | { kind: 'PRETRAIN'; prepared: PreparedDomain; settings: PretrainSettings & { budget?: SearchBudget; fixedObjective?: boolean } }
  | { kind: 'TRANSFER'; prepared: PreparedTransfer; settings: TransferSettings };

export type ParentMessage =
  /** Start the TF.js backend for a device; answered by `ready` or `failed`. */
  | { type: 'init'; device: JobDevice }
  /** Run the task; answered by `progress` messages, then `done` or `failed`. */
  | { type: 'run'; task: TrainingTask; progressIntervalMs: number }
  /** Stop the training loop (cancellation, shutdown); the child answers `failed` with code CANCELLED. */
  | { type: 'abort'; reason: string };

export type ChildProgress =
  | ({ kind: 'step' } & StepReport)
  | { kind: 'epoch'; epoch: number; epochs: number; loss: number; validation?: number; examplesPerSecond: number; elapsedMs: number }
  | { kind: 'phase'; phase: JobPhase }
  /** One finished trial of AUTO's search. */
  | { kind: 'trial'; trial: SearchTrialRecord };

export type ChildMessage =
  | { type: 'ready'; backend: BackendInfo }
  | { type: 'progress'; progress: ChildProgress }
  | { type: 'done'; trained: TrainedModel; report?: TransferReport; retrainedSource?: TrainedModel }
  | { type: 'failed'; code: string; message: string };
