import { ArrayMaxSize, IsBoolean, IsIn, IsOptional, Length, Max, Min } from 'class-validator';
import { ArgsType, Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import type { JobEventRecord, JobRecord } from '../../jobs/index.js';
import { EvaluationProtocol, RowInit, Scoring, TrainingObjective, TransferStrategy } from './enums.js';
import { JSONScalar } from './json.scalar.js';
import { Model } from './model.type.js';
import { PageInfo } from './page-info.type.js';
import type { DeclaredSettings } from '../../workflows/settings/index.js';
import { declareSettingFields } from './setting-fields.js';

export enum JobStatus {
  QUEUED = 'QUEUED',
  RUNNING = 'RUNNING',
  SUCCEEDED = 'SUCCEEDED',
  FAILED = 'FAILED',
  CANCELLED = 'CANCELLED',
}
registerEnumType(JobStatus, { name: 'JobStatus' });

export enum JobKind {
  PRETRAIN = 'PRETRAIN',
  TRANSFER = 'TRANSFER',
}
registerEnumType(JobKind, { name: 'JobKind' });

export enum Device {
  AUTO = 'AUTO',
  CPU = 'CPU',
  GPU = 'GPU',
}
registerEnumType(Device, {
  name: 'Device',
  valuesConfig: {
    AUTO: { description: 'The best the worker has (GPU through @tensorflow/tfjs-node-gpu, else CPU); recorded on the job and the model.' },
    CPU: { description: 'CPU only.' },
    GPU: { description: 'Needs @tensorflow/tfjs-node-gpu and a CUDA device; fails at once without them, never silently on CPU.' },
  },
});

@ObjectType({ description: 'Where a running job is (updated a few times a second at most).' })
export class JobProgress {
  @Field(() => String, { description: 'preparing, training, transfer, baseline, evaluation or registering.' })
  phase!: string;

  @Field(() => Int)
  epoch!: number;

  @Field(() => Int)
  epochs!: number;

  @Field(() => Int)
  step!: number;

  @Field(() => Int)
  steps!: number;

  @Field(() => Float, { nullable: true })
  loss!: number | null;

  @Field(() => Float, { nullable: true })
  examplesPerSecond!: number | null;

  @Field(() => Float, { nullable: true, description: 'Seconds left in the training phases at the current speed.' })
  eta!: number | null;

  @Field(() => Float)
  elapsedSeconds!: number;
}

@ObjectType()
export class JobEvent {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { description: 'queued, started, backend, phase, epoch, progress, cancel_requested, cancelled, failed, succeeded, requeued, activated.' })
  kind!: string;

  @Field(() => JSONScalar)
  payload!: Record<string, unknown>;

  @Field(() => Date)
  createdAt!: Date;

  static from(e: JobEventRecord): JobEvent {
    return Object.assign(new JobEvent(), { id: String(e.id), kind: e.kind, payload: e.payload, createdAt: e.createdAt });
  }
}

/** A pretraining or transfer run, queued, running or finished. */
@ObjectType()
export class Job {
  @Field(() => ID)
  id!: string;

  @Field(() => JobKind)
  kind!: JobKind;

  @Field(() => JobStatus)
  status!: JobStatus;

  @Field(() => JSONScalar, { description: 'The input with every default filled in.' })
  input!: Record<string, unknown>;

  @Field(() => String, { nullable: true })
  idempotencyKey!: string | null;

  @Field(() => Device)
  deviceRequested!: Device;

  @Field(() => String, { nullable: true, description: 'Device the run computes on (set once its process started).' })
  device!: string | null;

  @Field(() => String, { nullable: true, description: 'TF.js backend in use (tensorflow, wasm, cpu).' })
  backend!: string | null;

  @Field(() => JobProgress, { nullable: true })
  progress!: JobProgress | null;

  @Field(() => [JobEvent], { description: 'History, oldest first (epochs with their losses and validation metric, phases, the outcome).' })
  events?: JobEvent[];

  @Field(() => JSONScalar, { nullable: true })
  metrics!: Record<string, unknown> | null;

  @Field(() => JSONScalar, { nullable: true })
  transferReport!: Record<string, unknown> | null;

  @Field(() => String, { nullable: true })
  error!: string | null;

  @Field(() => Model, { nullable: true, description: 'The registered model once SUCCEEDED.' })
  model?: Model | null;

  modelId!: string | null;

  @Field(() => Int)
  attempts!: number;

  @Field(() => Int)
  maxAttempts!: number;

  @Field(() => String, { nullable: true })
  workerId!: string | null;

  @Field(() => Date, { nullable: true })
  heartbeatAt!: Date | null;

  @Field(() => Date, { nullable: true })
  cancelRequestedAt!: Date | null;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date, { nullable: true })
  startedAt!: Date | null;

  @Field(() => Date, { nullable: true })
  finishedAt!: Date | null;

  static from(j: JobRecord): Job {
    const progress = j.progress ? Object.assign(new JobProgress(), { ...j.progress, eta: j.progress.etaSeconds }) : null;
    return Object.assign(new Job(), { ...j, kind: j.kind as JobKind, status: j.status as JobStatus, deviceRequested: j.deviceRequested as Device, progress });
  }
}

@ObjectType()
export class JobEdge {
  @Field(() => String)
  cursor!: string;

  @Field(() => Job)
  node!: Job;
}

@ObjectType()
export class JobConnection {
  @Field(() => [JobEdge])
  edges!: JobEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;
}

@ArgsType()
export class JobsArgs {
  @Field(() => [JobStatus], { nullable: true, description: 'Only jobs in these statuses.' })
  @IsOptional()
  @ArrayMaxSize(5)
  status?: JobStatus[] | null;

  @Field(() => Int, { defaultValue: 20, description: 'Newest first, 1..100.' })
  @Min(1)
  @Max(100)
  first!: number;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @Length(1, 200)
  after?: string | null;
}

/** What every job input has: the device and the idempotency key (the settings are declared in src/workflows/settings). */
@InputType()
abstract class JobInputBase {
  @Field(() => Device, { defaultValue: Device.AUTO })
  @IsIn(Object.values(Device))
  device!: Device;

  @Field(() => String, { nullable: true, description: 'The same key returns the same job (safe retries).' })
  @IsOptional()
  @Length(1, 200)
  idempotencyKey?: string | null;
}

@InputType()
export class StartPretrainingInput extends JobInputBase {
  @Field(() => String)
  @Length(1, 63)
  domain!: string;

  @Field(() => Boolean, { nullable: true, description: 'Search the objective\'s settings on a validation carve of the training data first (as graft train --auto); each trial is a job event.' })
  @IsOptional()
  @IsBoolean()
  auto?: boolean | null;

  @Field(() => String, { nullable: true, description: 'With auto only: configurations ("24") or minutes ("10m"); default 16 configurations.' })
  @IsOptional()
  @Length(1, 16)
  budget?: string | null;

}
// The declared settings become fields (with their bounds) here, and typed fields through the interface.
declareSettingFields(StartPretrainingInput, 'train', { objective: TrainingObjective, scoring: Scoring, rowInit: RowInit, protocol: EvaluationProtocol });
export interface StartPretrainingInput extends DeclaredSettings<'train'> {}

@InputType()
export class StartTransferInput extends JobInputBase {
  @Field(() => ID)
  @Length(1, 100)
  sourceModelId!: string;

  @Field(() => String)
  @Length(1, 63)
  targetDomain!: string;

  @Field(() => TransferStrategy, { defaultValue: TransferStrategy.AUTO, description: 'AUTO (the default) searches the strategy and settings on a validation carve of the target training data.' })
  strategy!: TransferStrategy;

  @Field(() => String, { nullable: true, description: 'AUTO only: configurations per search ("24") or minutes ("10m"); default 16 configurations.' })
  @Length(1, 16)
  budget?: string | null;

  @Field(() => Boolean, { defaultValue: false, description: 'Activate the result when it is not negative transfer and beats the baseline.' })
  activateIfBetter!: boolean;
}
declareSettingFields(StartTransferInput, 'transfer', { protocol: EvaluationProtocol });
export interface StartTransferInput extends DeclaredSettings<'transfer'> {}
