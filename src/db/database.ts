import type { Kysely, Transaction } from 'kysely';
import type { ApiKeyTable } from './tables/api-key.table.js';
import type { DomainTable } from './tables/domain.table.js';
import type { EventTable, ImportTable } from './tables/event.table.js';
import type { ItemTable } from './tables/item.table.js';
import type { JobEventTable, JobTable } from './tables/job.table.js';
import type {
  EmbeddingTable,
  ModelActivationTable,
  ModelArtifactTable,
  ModelTable,
} from './tables/model.table.js';
import type { UserTable } from './tables/user.table.js';

/** Every table Graft reads or writes, keyed by SQL name. */
export interface Database {
  domains: DomainTable;
  users: UserTable;
  items: ItemTable;
  events: EventTable;
  imports: ImportTable;
  models: ModelTable;
  model_activations: ModelActivationTable;
  model_artifacts: ModelArtifactTable;
  embeddings: EmbeddingTable;
  jobs: JobTable;
  job_events: JobEventTable;
  api_keys: ApiKeyTable;
}

/** A connection or a transaction: repositories take either. */
export type Db = Kysely<Database> | Transaction<Database>;
