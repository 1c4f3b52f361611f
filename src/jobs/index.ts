/**
 * Training and transfer jobs: queue (graphile-worker on Postgres, in-process on PGlite),
 * one child process per run, progress, cancellation, crash recovery. The state lives in
 * Graft's `jobs` / `job_events` tables whichever runner runs a job.
 */
export type {
  JobDevice,
  JobEventRecord,
  JobKind,
  JobPage,
  JobPhase,
  JobProgress,
  JobRecord,
  JobSpec,
  JobStatus,
  PretrainJobConfig,
  PretrainJobInput,
  TransferJobConfig,
  TransferJobInput,
} from './job-record.js';
export { TERMINAL_JOB_STATUSES } from './job-record.js';
export { parseJobDevice, resolvePretrainInput, resolveTransferInput } from './job-input.js';
export { enqueueJob, getJob, getJobs, listJobEvents, listJobs, requestCancel, type ListJobsOptions } from './job-repository.js';
export { watchJob, type WatchJobOptions } from './watch-job.js';
export { runJob, type JobOutcome, type RunJobOptions } from './job-handler.js';
export { recoverStaleJobs, type RecoveredJob, type SweepOptions } from './job-sweeper.js';
export { startInProcessRunner, type InProcessRunner, type InProcessRunnerOptions } from './in-process-runner.js';
export { probeDevice, runWorker, type GraftWorker, type WorkerDevice, type WorkerOptions } from './graphile-queue.js';
export { TASK_FOR_DEVICE } from './queue-entry.js';
export type { RelayTiming } from './progress-relay.js';
export type { TrainingProcessOptions } from './training-process.js';
