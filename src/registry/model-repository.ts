import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import type { ModelStatus } from '../db/tables/model.table.js';
import { inTransaction } from '../db/transaction.js';
import { GraftError } from '../errors.js';
import type { TransferStrategyName } from '../transfer/transfer-strategy.js';

export type ModelKind = 'PRETRAIN' | 'TRANSFER' | 'BASELINE';
export type { TransferStrategyName };

/** A registered model as the library hands it out. */
export interface ModelRecord {
  id: string;
  domain: string;
  domainId: number;
  version: number;
  parentModelId: string | null;
  kind: ModelKind;
  strategy: TransferStrategyName | null;
  status: ModelStatus;
  config: Record<string, unknown>;
  metrics: Record<string, unknown>;
  transferReport: Record<string, unknown> | null;
  negativeTransfer: boolean;
  backend: string | null;
  device: string | null;
  jobId: string | null;
  error: string | null;
  createdAt: Date;
  readyAt: Date | null;
}

export interface NewModel {
  domain: string;
  kind: ModelKind;
  strategy?: TransferStrategyName | null;
  parentModelId?: string | null;
  config: Record<string, unknown>;
  backend?: string | null;
  device?: string | null;
  jobId?: string | null;
}

/** Finds a domain's id or explains how to create it. */
export async function requireDomainId(db: Db, domain: string): Promise<number> {
  const row = await db.selectFrom('domains').select('id').where('name', '=', domain).executeTakeFirst();
  if (!row) {
    throw new GraftError('NOT_FOUND', `domain "${domain}" does not exist; import events into it first with \`graft import FILE --domain ${domain}\``);
  }
  return row.id;
}

/**
 * Registers a new model version in status `TRAINING`. The version is the domain's next
 * number; the domain row is locked so concurrent registrations get distinct versions.
 */
export async function createModel(db: Db, model: NewModel): Promise<ModelRecord> {
  const run = async (trx: Db) => {
    const domainId = await requireDomainId(trx, model.domain);
    await sql`select id from domains where id = ${domainId} for update`.execute(trx);
    if (model.parentModelId) await getModel(trx, model.parentModelId);
    const { next } = await trx
      .selectFrom('models')
      .select(sql<number>`coalesce(max(version), 0) + 1`.as('next'))
      .where('domain_id', '=', domainId)
      .executeTakeFirstOrThrow();
    const row = await trx
      .insertInto('models')
      .values({
        domain_id: domainId,
        version: Number(next),
        parent_model_id: model.parentModelId ?? null,
        kind: model.kind,
        strategy: model.strategy ?? null,
        status: 'TRAINING',
        config: JSON.stringify(model.config),
        metrics: '{}',
        transfer_report: null,
        backend: model.backend ?? null,
        device: model.device ?? null,
        job_id: model.jobId ?? null,
        error: null,
        ready_at: null,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return getModel(trx, row.id);
  };
  return inTransaction(db, run);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** One model by id; NOT_FOUND names the id and how to list models. */
export async function getModel(db: Db, id: string): Promise<ModelRecord> {
  if (!UUID.test(id)) {
    throw new GraftError('BAD_INPUT', `model id "${id}" is not a model id (a UUID); list models with \`graft models\``);
  }
  const row = await modelQuery(db).where('models.id', '=', id).executeTakeFirst();
  if (!row) throw new GraftError('NOT_FOUND', `model "${id}" does not exist; list models with \`graft models\``);
  return toRecord(row);
}

/** Several models by id in one query (for DataLoaders); ids that are not UUIDs or do not exist are simply absent. */
export async function getModels(db: Db, ids: readonly string[]): Promise<ModelRecord[]> {
  const valid = ids.filter((id) => UUID.test(id));
  if (valid.length === 0) return [];
  return (await modelQuery(db).where('models.id', 'in', valid).execute()).map(toRecord);
}

/** Models, newest first, optionally of one domain. */
export async function listModels(db: Db, options: { domain?: string; limit?: number } = {}): Promise<ModelRecord[]> {
  let query = modelQuery(db).orderBy('models.created_at', 'desc').orderBy('models.version', 'desc');
  if (options.domain) {
    await requireDomainId(db, options.domain);
    query = query.where('domains.name', '=', options.domain);
  }
  if (options.limit) query = query.limit(options.limit);
  return (await query.execute()).map(toRecord);
}

/** The usable (READY or ACTIVE) models of `kind` whose parent is `parentId`, newest first. */
export async function childModels(db: Db, parentId: string, kind: ModelKind): Promise<ModelRecord[]> {
  const rows = await modelQuery(db)
    .where('models.parent_model_id', '=', parentId)
    .where('models.kind', '=', kind)
    .where('models.status', 'in', ['READY', 'ACTIVE'])
    .orderBy('models.created_at', 'desc')
    .execute();
  return rows.map(toRecord);
}

/** The active model of a domain, or null when none is active. */
export async function getActiveModel(db: Db, domain: string): Promise<ModelRecord | null> {
  const domainId = await requireDomainId(db, domain);
  const row = await modelQuery(db).where('models.domain_id', '=', domainId).where('models.status', '=', 'ACTIVE').executeTakeFirst();
  return row ? toRecord(row) : null;
}

/** Marks a model trained: status READY with its metrics (and transfer report). */
export async function markModelReady(
  db: Db,
  id: string,
  result: { metrics: Record<string, unknown>; transferReport?: Record<string, unknown> | null; negativeTransfer?: boolean; backend?: string; device?: string },
): Promise<void> {
  const updated = await db
    .updateTable('models')
    .set({
      status: 'READY',
      metrics: JSON.stringify(result.metrics),
      transfer_report: result.transferReport ? JSON.stringify(result.transferReport) : null,
      negative_transfer: result.negativeTransfer ?? false,
      ...(result.backend ? { backend: result.backend } : {}),
      ...(result.device ? { device: result.device } : {}),
      ready_at: new Date(),
    })
    .where('id', '=', id)
    .where('status', '=', 'TRAINING')
    .executeTakeFirst();
  if (Number(updated.numUpdatedRows) !== 1) {
    throw new GraftError('CONFLICT', `model "${id}" is not in status TRAINING, so it cannot be marked READY`);
  }
}

/** Marks a model that did not finish training; it can never be activated. */
export async function markModelFailed(db: Db, id: string, error: string): Promise<void> {
  await db.updateTable('models').set({ status: 'FAILED', error }).where('id', '=', id).where('status', '=', 'TRAINING').execute();
}

function modelQuery(db: Db) {
  return db
    .selectFrom('models')
    .innerJoin('domains', 'domains.id', 'models.domain_id')
    .selectAll('models')
    .select('domains.name as domain_name');
}

type ModelRow = Awaited<ReturnType<ReturnType<typeof modelQuery>['executeTakeFirstOrThrow']>>;

function toRecord(row: ModelRow): ModelRecord {
  return {
    id: row.id,
    domain: row.domain_name,
    domainId: row.domain_id,
    version: row.version,
    parentModelId: row.parent_model_id,
    kind: row.kind,
    strategy: row.strategy as TransferStrategyName | null,
    status: row.status,
    config: row.config,
    metrics: row.metrics,
    transferReport: row.transfer_report,
    negativeTransfer: row.negative_transfer,
    backend: row.backend,
    device: row.device,
    jobId: row.job_id,
    error: row.error,
    createdAt: row.created_at,
    readyAt: row.ready_at,
  };
}
