import type { JobStatus } from '../db/tables/job.table.js';
import type { TransferStrategyName } from '../transfer/transfer-strategy.js';
import type { SearchBudget } from '../tuning/search-budget.js';
import type { EvaluationSettings, ModelSettings, TrainingSettings } from '../workflows/model-settings.js';
import type { DeclaredSettings } from '../workflows/settings/index.js';
import type { SplitSpec } from '../workflows/split-spec.js';

export type { JobStatus };
export type JobKind = 'PRETRAIN' | 'TRANSFER';
/** The device a job asks for: AUTO takes the best the worker has; GPU never falls back to CPU. */
export type JobDevice = 'AUTO' | 'CPU' | 'GPU';

/** Statuses a job never leaves. */
export const TERMINAL_JOB_STATUSES: readonly JobStatus[] = ['SUCCEEDED', 'FAILED', 'CANCELLED'];

/**
 * What `startPretraining` asks for: the domain, and any of the declared `train` settings
 * (src/workflows/settings: objective, dim, layers, epochs, ...); each left out takes its default.
 */
export interface PretrainJobInput extends DeclaredSettings<'train'> {
  domain: string;
  /** How test interactions are held out (default: each user's last). A `file` split is refused: the worker may be another machine. */
  split?: SplitSpec;
  /** Search the objective's settings on a validation carve first (`graft train --auto`). */
  auto?: boolean;
  /** With `auto`: configurations (`24`) or minutes (`"10m"`); default 16 configurations. */
  budget?: string | number;
}

/** What `startTransfer` asks for: source, target and strategy, and any of the declared `transfer` settings. */
export interface TransferJobInput extends DeclaredSettings<'transfer'> {
  sourceModelId: string;
  targetDomain: string;
  /** A strategy, or AUTO (the default): strategy and settings searched on the validation carve. */
  strategy?: TransferStrategyName | 'AUTO';
  /** AUTO's budget: configurations (`24`) or minutes (`"10m"`); default 16 configurations. */
  budget?: string | number;
  /** Share of overlapping users whose whole target history is moved to test (default 0.1 with a split, 0 with a test file). */
  coldStartShare?: number;
  /** Activate the result when it is not flagged as negative transfer and its guard-metric gain is above 0. */
  activateIfBetter?: boolean;
  split?: SplitSpec;
}

/** A pretraining job's input with every default filled in, as stored in `jobs.input`. */
export interface PretrainJobConfig {
  domain: string;
  /** Present when the job searches its settings first (`auto`). */
  budget?: SearchBudget;
  /** `auto` with the objective named in the input: the search keeps it (otherwise it compares every objective). */
  fixedObjective?: boolean;
  model: ModelSettings;
  training: TrainingSettings;
  evaluation: EvaluationSettings;
  split: SplitSpec;
}

/** A transfer job's input with every default filled in, as stored in `jobs.input`. */
export interface TransferJobConfig {
  sourceModelId: string;
  targetDomain: string;
  strategy: TransferStrategyName | 'AUTO';
  /** AUTO only. */
  budget?: SearchBudget;
  freezeLayers?: number;
  /** Grafting strategies only (absent for JOINT). */
  replayWeight?: number;
  replayFraction?: number;
  /** Grafting strategies only: also train and report the JOINT reference (absent in jobs stored before it existed: off). */
  jointReference?: boolean;
  tokenDropout: number;
  coldStartShare: number;
  maxTrainPerUser?: number;
  /** Given when the transferred model and its baseline get a learned item bias (`itemBias`). */
  itemBias?: { learningRate: number };
  seed: number;
  activateIfBetter: boolean;
  training: TrainingSettings;
  evaluation: EvaluationSettings;
  split: SplitSpec;
}

/** A job to enqueue. */
export type JobSpec = (
  | { kind: 'PRETRAIN'; input: PretrainJobInput }
  | { kind: 'TRANSFER'; input: TransferJobInput }
) & {
  device?: JobDevice;
  /** The same key returns the same job (a different input under a used key is a CONFLICT). */
  idempotencyKey?: string | null;
  /** Runs allowed before the job is FAILED when its worker keeps dying (default 2). */
  maxAttempts?: number;
};

/** Where a running job is; written to `jobs.progress` at most a few times a second. */
export interface JobProgress {
  /** `preparing` (reading data), `training` (pretraining), `search` (AUTO's trials), `transfer` / `baseline` (the two fits of a transfer), `evaluation`, `registering`. */
  phase: JobPhase;
  /** 1-based epoch of the current phase (0 before the first step). */
  epoch: number;
  epochs: number;
  step: number;
  steps: number;
  /** Loss of the last step. */
  loss: number | null;
  examplesPerSecond: number | null;
  /** Seconds left in all training phases at the current speed (validation and evaluation not included); null before the first step. */
  etaSeconds: number | null;
  /** Seconds since the run started. */
  elapsedSeconds: number;
}

export type JobPhase = 'preparing' | 'training' | 'search' | 'transfer' | 'baseline' | 'joint' | 'evaluation' | 'registering';

/** A job as the library hands it out. */
export interface JobRecord {
  id: string;
  kind: JobKind;
  status: JobStatus;
  /** The resolved input (`PretrainJobConfig` or `TransferJobConfig`). */
  input: Record<string, unknown>;
  idempotencyKey: string | null;
  deviceRequested: JobDevice;
  /** Device and TF.js backend the run computes on (set when its process has started). */
  device: string | null;
  backend: string | null;
  progress: JobProgress | null;
  /** The registered model's metrics (`ModelMetrics`) once SUCCEEDED. */
  metrics: Record<string, unknown> | null;
  /** A transfer's report (gain over the baseline, negative-transfer flag) once SUCCEEDED. */
  transferReport: Record<string, unknown> | null;
  error: string | null;
  modelId: string | null;
  attempts: number;
  maxAttempts: number;
  workerId: string | null;
  heartbeatAt: Date | null;
  cancelRequestedAt: Date | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

/** One entry of a job's history (`job_events`), oldest first. */
export interface JobEventRecord {
  id: number;
  jobId: string;
  /** queued, started, backend, phase, epoch, trial (AUTO's search), progress, cancel_requested, cancelled, failed, succeeded, requeued, activated. */
  kind: string;
  payload: Record<string, unknown>;
  createdAt: Date;
}

/** A page of `listJobs`. */
export interface JobPage {
  jobs: JobRecord[];
  /** Pass as `after` for the next page. */
  endCursor: string | null;
  hasNextPage: boolean;
}
