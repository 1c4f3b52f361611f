import { sql, type Transaction } from 'kysely';
import type { GraftDatabase } from '../db/connect.js';
import type { Database } from '../db/database.js';
import { GraftError, isGraftError } from '../errors.js';
import { modelObjective } from '../model/objective.js';
import { activateModel } from '../registry/activation.js';
import { describeGuard, type TransferReport } from '../transfer/transfer-report.js';
import type { TransferStrategyName } from '../transfer/transfer-strategy.js';
import { prepareTransfer } from '../workflows/prepare-transfer.js';
import { prepareDomain } from '../workflows/prepared-domain.js';
import { registerTrainedModel, registerTransferResult } from '../workflows/register-trained-model.js';
import type { TrainedModel } from '../workflows/trained-model.js';
import type { TrainingTask } from './child-protocol.js';
import { ProgressTracker, type ProgressPlan } from './job-progress.js';
import type { JobPhase, JobRecord, PretrainJobConfig, TransferJobConfig } from './job-record.js';
import { appendJobEvents, claimJob, finishJob, requeueJob, touchJob, type JobLease } from './job-repository.js';
import { ProgressRelay, type RelayTiming } from './progress-relay.js';
import type { TrainingProcess, TrainingProcessOptions } from './training-process.js';
import { startChild, type WarmChild } from './warm-child.js';

export interface RunJobOptions {
  /** Who runs it (host:pid and runner), recorded on the job and checked on every write. */
  workerId: string;
  /** Aborted when the runner shuts down: a running job goes back to the queue for another worker. */
  signal?: AbortSignal;
  timing?: RelayTiming;
  child?: TrainingProcessOptions;
  /** A runner's spare, already started training process (see WarmChild); without it every run starts a fresh one. */
  warm?: WarmChild;
  log?: (line: string) => void;
  /** Called with the relay's statement count when the run ends (the benchmark reads it). */
  onWrites?: (writes: number) => void;
}

/** How `runJob` ended; SKIPPED: the job was not QUEUED (taken, cancelled, finished); LOST: it was recovered from under this run. */
export type JobOutcome = 'SUCCEEDED' | 'FAILED' | 'CANCELLED' | 'REQUEUED' | 'SKIPPED' | 'LOST';

type StopReason = 'cancel' | 'shutdown' | 'lost';

/**
 * Runs one job start to end, the same way under graphile-worker and the in-process runner:
 * claims it (only a QUEUED job; a second worker handed the same job gets SKIPPED), starts a
 * child process and its backend while reading the data here, hands the typed arrays over,
 * relays progress at a bounded rate, watches for cancellation, and registers the result in
 * one transaction together with the job's SUCCEEDED status (and the activation when a
 * transfer asked for `activateIfBetter` and beat its baseline). A cancelled or failed run
 * leaves no READY model. Failures are recorded on the job, not thrown.
 *
 * @example
 * const outcome = await runJob(gdb, job.id, { workerId: 'host:123' }); // 'SUCCEEDED'
 */
export async function runJob(gdb: GraftDatabase, jobId: string, options: RunJobOptions): Promise<JobOutcome> {
  const claimed = await claimJob(gdb.db, jobId, options.workerId);
  if (!claimed) return 'SKIPPED';
  const { lease, job } = claimed;
  const log = options.log ?? (() => undefined);
  const tracker = new ProgressTracker(progressPlan(job));
  const stopped = new AbortController();
  let stopReason: StopReason | undefined;
  let child: TrainingProcess | undefined;
  const halt = (reason: StopReason) => {
    if (stopReason) return;
    stopReason = reason;
    log(`job ${job.id}: stopping (${reason === 'cancel' ? 'cancellation requested' : reason === 'lost' ? 'the job was taken over after a missed heartbeat' : 'worker shutting down'})`);
    child?.abort(reason);
    stopped.abort();
  };
  const relay = new ProgressRelay(gdb.db, lease, tracker, (control) => (control.lost ? halt('lost') : control.cancelRequested ? halt('cancel') : undefined), options.timing, log);
  const onShutdown = () => halt('shutdown');
  options.signal?.addEventListener('abort', onShutdown);
  log(`job ${job.id}: ${describe(job)} started (attempt ${lease.attempt}, device ${job.deviceRequested})`);
  relay.start();
  try {
    if (options.signal?.aborted) halt('shutdown');
    relay.phase('preparing');
    // The backend starts in the child while the data is read here: a GPU job without a GPU fails before the read finishes.
    const started = options.warm ? options.warm.take(job.deviceRequested) : startChild(job.deviceRequested, options.child);
    child = started.child;
    const backendReady = started.backend;
    const preparing = prepareTask(gdb, job);
    preparing.catch(() => undefined);
    const backend = await untilStopped(backendReady, stopped.signal);
    relay.setBackend(backend, child.pid);
    const task = await untilStopped(preparing, stopped.signal);
    // Not raced against `stopped`: on abort the loop stops by itself, or the child is killed after the grace period.
    const result = await child.run(task, (p) => relay.report(p));
    if (stopReason) throw new GraftError('CANCELLED', 'stopped');
    relay.phase('registering');
    await relay.stop();
    const modelId = await register(gdb, job, lease, result, tracker);
    options.onWrites?.(relay.writes);
    log(`job ${job.id}: succeeded, model ${modelId}`);
    return 'SUCCEEDED';
  } catch (error) {
    await relay.stop();
    options.onWrites?.(relay.writes);
    return await endUnsuccessfully(gdb, lease, job, error, stopReason, tracker, log);
  } finally {
    options.signal?.removeEventListener('abort', onShutdown);
    child?.kill();
  }
}

async function endUnsuccessfully(
  gdb: GraftDatabase,
  lease: JobLease,
  job: JobRecord,
  error: unknown,
  stopReason: StopReason | undefined,
  tracker: ProgressTracker,
  log: (line: string) => void,
): Promise<JobOutcome> {
  // The registration transaction refuses when the lease is gone or a cancel arrived meanwhile; ask the row which.
  let reason = stopReason;
  if (!reason && isGraftError(error, 'CANCELLED')) {
    const control = await touchJob(gdb.db, lease).catch(() => undefined);
    reason = control?.lost ? 'lost' : 'cancel';
  }
  if (reason === 'lost') return 'LOST';
  if (reason === 'shutdown') {
    await requeueJob(gdb, lease, 'the worker running it shut down');
    log(`job ${job.id}: requeued`);
    return 'REQUEUED';
  }
  if (reason === 'cancel') {
    const done = await finishJob(gdb.db, lease, { status: 'CANCELLED', progress: tracker.snapshot() });
    log(`job ${job.id}: cancelled`);
    return done ? 'CANCELLED' : 'LOST';
  }
  const message = error instanceof Error ? error.message : String(error);
  const done = await finishJob(gdb.db, lease, { status: 'FAILED', error: message, progress: tracker.snapshot() });
  log(`job ${job.id}: failed: ${message}`);
  return done ? 'FAILED' : 'LOST';
}

/** The parent's half of a run: every database read, into typed arrays the child computes on. */
async function prepareTask(gdb: GraftDatabase, job: JobRecord): Promise<TrainingTask> {
  if (job.kind === 'PRETRAIN') {
    const config = job.input as unknown as PretrainJobConfig;
    const prepared = await prepareDomain(gdb, config.domain, { split: config.split, tokenBuckets: config.model.tokenBuckets });
    return {
      kind: 'PRETRAIN',
      prepared,
      settings: { model: config.model, training: config.training, evaluation: config.evaluation, device: job.deviceRequested, ...(config.budget ? { budget: config.budget } : {}), ...(config.fixedObjective ? { fixedObjective: true } : {}) },
    };
  }
  const config = job.input as unknown as TransferJobConfig;
  const prepared = await prepareTransfer(gdb, config.sourceModelId, config.targetDomain, {
    split: config.split,
    coldStartShare: config.coldStartShare,
    seed: config.seed,
    maxTargetTrainPerUser: config.maxTrainPerUser,
    retrainedSources: config.strategy === 'AUTO',
  });
  return {
    kind: 'TRANSFER',
    prepared,
    settings: {
      strategy: config.strategy,
      ...(config.budget ? { budget: config.budget } : {}),
      freezeLayers: config.freezeLayers,
      replayWeight: config.replayWeight,
      replayFraction: config.replayFraction,
      jointReference: config.jointReference ?? false,
      tokenDropout: config.tokenDropout,
      itemBias: config.itemBias,
      training: config.training,
      evaluation: config.evaluation,
      seed: config.seed,
      device: job.deviceRequested,
    },
  };
}

/**
 * Stores the model and ends the job SUCCEEDED in one transaction. The job update is
 * conditional on the lease and on no cancellation having been asked for; if it matches
 * nothing the transaction rolls back and the model is left FAILED, never READY.
 */
async function register(gdb: GraftDatabase, job: JobRecord, lease: JobLease, result: { trained: TrainedModel; report?: TransferReport; retrainedSource?: TrainedModel }, tracker: ProgressTracker): Promise<string> {
  const { trained, report } = result;
  const transferConfig = job.kind === 'TRANSFER' ? (job.input as unknown as TransferJobConfig) : undefined;
  const beforeCommit = async (trx: Transaction<Database>, modelId: string) => {
    const updated = await trx
      .updateTable('jobs')
      .set({
        status: 'SUCCEEDED',
        model_id: modelId,
        metrics: JSON.stringify(trained.metrics),
        transfer_report: report ? JSON.stringify(report) : null,
        backend: trained.backend.backend,
        device: trained.backend.device,
        progress: JSON.stringify(tracker.snapshot()),
        error: null,
        finished_at: sql<Date>`now()`,
        heartbeat_at: sql<Date>`now()`,
      })
      .where('id', '=', lease.jobId)
      .where('status', '=', 'RUNNING')
      .where('worker_id', '=', lease.workerId)
      .where('attempts', '=', lease.attempt)
      .where('cancel_requested_at', 'is', null)
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) !== 1) {
      throw new GraftError('CANCELLED', `job ${lease.jobId} was cancelled or taken over while its model was being registered; the model is not kept`);
    }
    const decision = activationDecision(transferConfig, report);
    if (decision.activate) await activateModel(trx, modelId);
    await appendJobEvents(trx, lease.jobId, [{ kind: 'succeeded', payload: { modelId, activated: decision.activate, activation: decision.reason } }]);
  };
  if (job.kind === 'PRETRAIN') {
    const record = await registerTrainedModel(gdb, { domain: (job.input as unknown as PretrainJobConfig).domain, kind: 'PRETRAIN', jobId: job.id, beforeCommit }, trained);
    return record.id;
  }
  // AUTO stores the strategy it chose (or a target-only model when no transfer won), after the source it retrained, if any.
  const { record } = await registerTransferResult(
    gdb,
    {
      domain: transferConfig!.targetDomain,
      transferReport: report as unknown as Record<string, unknown>,
      negativeTransfer: report?.negativeTransfer ?? false,
      jobId: job.id,
      beforeCommit,
    },
    { trained, report: report ?? ({ strategy: transferConfig!.strategy } as TransferReport), retrainedSource: result.retrainedSource },
    transferConfig!.sourceModelId,
  );
  return record.id;
}

/** activateIfBetter: only a transfer that is not flagged negative and whose guard-metric gain is above 0. */
export function activationDecision(config: TransferJobConfig | undefined, report: TransferReport | undefined): { activate: boolean; reason: string } {
  if (!config?.activateIfBetter || !report) return { activate: false, reason: 'not requested' };
  if (report.negativeTransfer) return { activate: false, reason: `flagged: ${describeGuard(report)}` };
  if (report.outcome === 'TARGET_ONLY') {
    const overPopularity = report.gainOverPopularity[report.guardMetric]?.value ?? 0;
    return { activate: true, reason: `AUTO chose no transfer (the tuned target-only model won on validation); ${report.guardMetric} gain ${overPopularity.toFixed(4)} over popularity` };
  }
  const gain = report.gain[report.guardMetric]?.value ?? 0;
  if (!(gain > 0)) return { activate: false, reason: `${report.guardMetric} gain ${gain} is not above 0` };
  return { activate: true, reason: `${report.guardMetric} gain ${gain.toFixed(4)} over the target-only baseline` };
}

function progressPlan(job: JobRecord): ProgressPlan {
  const training = (job.input as { training?: { epochs?: number; batchSize?: number } }).training ?? {};
  const phases: JobPhase[] = job.kind === 'PRETRAIN' ? ((job.input as { budget?: unknown }).budget ? ['search', 'training'] : ['training']) : (job.input as { jointReference?: boolean }).jointReference ? ['transfer', 'baseline', 'joint'] : ['transfer', 'baseline'];
  // A plain pretraining run that leaves the softmax's scoring out fits every scoring (`scoringProfiled`; on sparse data one fit, and the ETA only shrinks).
  const model = (job.input as { model?: { objective?: string; scoring?: string } }).model;
  const fits = job.kind === 'PRETRAIN' && !(job.input as { budget?: unknown }).budget && model?.scoring === undefined ? modelObjective(model?.objective ?? 'softmax').scorings.length : 1;
  return { trainingPhases: phases, epochs: (training.epochs ?? 1) * fits, batchSize: training.batchSize ?? 256 };
}

function describe(job: JobRecord): string {
  const input = job.input as Record<string, unknown>;
  return job.kind === 'PRETRAIN' ? `pretraining on "${String(input.domain)}"` : `${String(input.strategy)} transfer to "${String(input.targetDomain)}"`;
}

/** Waits for `promise` unless `signal` fires first (then rejects: the caller's stop reason says why). */
function untilStopped<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new GraftError('CANCELLED', 'stopped'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new GraftError('CANCELLED', 'stopped'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
