import type { ColumnType, Generated } from 'kysely';

export const MODEL_STATUSES = ['TRAINING', 'READY', 'FAILED', 'ACTIVE', 'RETIRED'] as const;
export type ModelStatus = (typeof MODEL_STATUSES)[number];

type Json = ColumnType<Record<string, unknown>, string | undefined, string>;
type NullableJson = ColumnType<Record<string, unknown> | null, string | null | undefined, string | null>;

/** A trained two-tower model: one version per domain, with lineage to its source model. */
export interface ModelTable {
  id: Generated<string>;
  domain_id: number;
  version: number;
  parent_model_id: string | null;
  /** `PRETRAIN` (trained on one domain), `TRANSFER`, or `BASELINE` (the target-only control of a transfer). */
  kind: 'PRETRAIN' | 'TRANSFER' | 'BASELINE';
  /** Transfer strategy (`FEATURE_EXTRACTION`, `PARTIAL`, `FULL`, `JOINT`) or null for pretraining. */
  strategy: string | null;
  status: ModelStatus;
  config: Json;
  metrics: Json;
  transfer_report: NullableJson;
  negative_transfer: Generated<boolean>;
  backend: string | null;
  device: string | null;
  job_id: string | null;
  error: string | null;
  created_at: Generated<Date>;
  ready_at: Date | null;
}

/** History of activations per domain; the previous row is what rollback returns to. */
export interface ModelActivationTable {
  id: Generated<number>;
  domain_id: number;
  model_id: string;
  previous_model_id: string | null;
  forced: Generated<boolean>;
  activated_at: Generated<Date>;
}

/** Binary pieces of a model (dense weights, embedding tables, the serving index, vocabularies). */
export interface ModelArtifactTable {
  id: Generated<number>;
  model_id: string;
  name: string;
  kind: 'dense' | 'table' | 'index' | 'vocabulary' | 'meta';
  dtype: string;
  shape: ColumnType<number[], number[], number[]>;
  data: Uint8Array;
  created_at: Generated<Date>;
}

/** Output embeddings of a model, portable as `real[]` (pgvector is not packaged everywhere). */
export interface EmbeddingTable {
  model_id: string;
  entity_kind: 'USER' | 'ITEM';
  entity_id: number;
  vector: number[];
}
