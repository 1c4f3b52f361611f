import type { ColumnType, Generated } from 'kysely';

export const JOB_STATUSES = ['QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

type Json = ColumnType<Record<string, unknown>, string | undefined, string>;
type NullableJson = ColumnType<Record<string, unknown> | null, string | null | undefined, string | null>;

/** A training or transfer job; the same row whichever runner (graphile-worker or in-process) runs it. */
export interface JobTable {
  id: Generated<string>;
  kind: 'PRETRAIN' | 'TRANSFER';
  status: JobStatus;
  input: Json;
  idempotency_key: string | null;
  device_requested: 'AUTO' | 'CPU' | 'GPU';
  device: string | null;
  backend: string | null;
  progress: NullableJson;
  metrics: NullableJson;
  transfer_report: NullableJson;
  error: string | null;
  model_id: string | null;
  attempts: Generated<number>;
  max_attempts: Generated<number>;
  worker_id: string | null;
  heartbeat_at: Date | null;
  cancel_requested_at: Date | null;
  created_at: Generated<Date>;
  started_at: Date | null;
  finished_at: Date | null;
}

export interface JobEventTable {
  id: ColumnType<string, never, never>;
  job_id: string;
  kind: string;
  payload: Json;
  created_at: Generated<Date>;
}
