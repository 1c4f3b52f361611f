import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import { inTransaction } from '../db/transaction.js';
import { GraftError } from '../errors.js';
import { getModel, requireDomainId, type ModelRecord } from './model-repository.js';

/** Channel on which an activation is announced to other server processes (Postgres LISTEN/NOTIFY). */
export const ACTIVATION_CHANNEL = 'graft_model_activated';

export interface ActivationResult {
  domain: string;
  model: ModelRecord;
  previousModelId: string | null;
}

/**
 * Makes a model the one serving its domain, atomically: in one transaction the domain row
 * is locked, the previous ACTIVE model goes back to READY, this one becomes ACTIVE, the
 * activation is recorded (for rollback) and announced. A failure anywhere leaves the
 * previous model active. A model flagged as negative transfer needs `force`.
 *
 * @param beforeCommit runs inside the transaction after the switch (e.g. building the
 *   serving index); throwing from it aborts the activation.
 */
export async function activateModel(
  db: Db,
  modelId: string,
  options: { force?: boolean; beforeCommit?: (model: ModelRecord, trx: Db) => Promise<void> } = {},
): Promise<ActivationResult> {
  return inTransaction(db, async (trx) => {
    const model = await getModel(trx, modelId);
    await sql`select id from domains where id = ${model.domainId} for update`.execute(trx);
    if (model.status === 'ACTIVE') {
      return { domain: model.domain, model, previousModelId: null };
    }
    if (model.status !== 'READY' && model.status !== 'RETIRED') {
      throw new GraftError('CONFLICT', `model "${modelId}" is ${model.status}; only a READY (or RETIRED) model can be activated`);
    }
    if (model.kind === 'BASELINE' && !options.force) {
      throw new GraftError('CONFLICT', `model "${modelId}" is the target-only baseline of a transfer; activate it with --force if you mean it`);
    }
    if (model.negativeTransfer && !options.force) {
      throw new GraftError(
        'CONFLICT',
        `model "${modelId}" is flagged as negative transfer (its gain over the target-only baseline or over popularity is not above 0); activate it with --force if you still want it`,
      );
    }
    return switchActive(trx, model, Boolean(options.force), options.beforeCommit);
  });
}

/**
 * Returns a domain to the model that was active before the current one; the current model
 * becomes RETIRED. Repeated rollbacks walk further back through the activation history.
 */
export async function rollbackModel(db: Db, domain: string, options: { beforeCommit?: (model: ModelRecord, trx: Db) => Promise<void> } = {}): Promise<ActivationResult> {
  return inTransaction(db, async (trx) => {
    const domainId = await requireDomainId(trx, domain);
    await sql`select id from domains where id = ${domainId} for update`.execute(trx);
    const current = await trx
      .selectFrom('model_activations')
      .innerJoin('models', 'models.id', 'model_activations.model_id')
      .select(['model_activations.model_id', 'model_activations.previous_model_id'])
      .where('model_activations.domain_id', '=', domainId)
      .where('models.status', '=', 'ACTIVE')
      .orderBy('model_activations.id', 'desc')
      .executeTakeFirst();
    if (!current) throw new GraftError('CONFLICT', `domain "${domain}" has no active model to roll back`);
    if (!current.previous_model_id) {
      throw new GraftError('CONFLICT', `domain "${domain}" has no earlier model to roll back to; activate another model with \`graft activate MODEL_ID\``);
    }
    const previous = await getModel(trx, current.previous_model_id);
    if (previous.status === 'FAILED' || previous.status === 'TRAINING') {
      throw new GraftError('CONFLICT', `the previous model "${previous.id}" of domain "${domain}" is ${previous.status} and cannot serve`);
    }
    await trx.updateTable('models').set({ status: 'RETIRED' }).where('id', '=', current.model_id).execute();
    // The new activation points back to whatever preceded the model we return to.
    const before = await trx
      .selectFrom('model_activations')
      .select('previous_model_id')
      .where('model_id', '=', previous.id)
      .orderBy('id', 'desc')
      .executeTakeFirst();
    return switchActive(trx, previous, false, options.beforeCommit, before?.previous_model_id ?? null);
  });
}

/** Marks a model RETIRED (taken out of service for good); the active model must be rolled back or replaced first. */
export async function retireModel(db: Db, modelId: string): Promise<ModelRecord> {
  const model = await getModel(db, modelId);
  if (model.status === 'ACTIVE') {
    throw new GraftError('CONFLICT', `model "${modelId}" is serving domain "${model.domain}"; activate another model or roll back first`);
  }
  if (model.status === 'TRAINING') {
    throw new GraftError('CONFLICT', `model "${modelId}" is still training; cancel its job instead`);
  }
  await db.updateTable('models').set({ status: 'RETIRED' }).where('id', '=', modelId).execute();
  return getModel(db, modelId);
}

async function switchActive(
  trx: Db,
  model: ModelRecord,
  forced: boolean,
  beforeCommit: ((model: ModelRecord, trx: Db) => Promise<void>) | undefined,
  recordedPrevious?: string | null,
): Promise<ActivationResult> {
  const previous = await trx
    .selectFrom('models')
    .select('id')
    .where('domain_id', '=', model.domainId)
    .where('status', '=', 'ACTIVE')
    .executeTakeFirst();
  if (previous) await trx.updateTable('models').set({ status: 'READY' }).where('id', '=', previous.id).where('status', '=', 'ACTIVE').execute();
  await trx.updateTable('models').set({ status: 'ACTIVE' }).where('id', '=', model.id).execute();
  await trx.updateTable('domains').set({ active_model_id: model.id }).where('id', '=', model.domainId).execute();
  await trx
    .insertInto('model_activations')
    .values({
      domain_id: model.domainId,
      model_id: model.id,
      previous_model_id: recordedPrevious === undefined ? (previous?.id ?? null) : recordedPrevious,
      forced,
    })
    .execute();
  const activated = await getModel(trx, model.id);
  if (beforeCommit) await beforeCommit(activated, trx);
  const payload = JSON.stringify({ domain: model.domain, modelId: model.id, version: model.version });
  await sql`select pg_notify(${ACTIVATION_CHANNEL}, ${payload})`.execute(trx);
  return { domain: model.domain, model: activated, previousModelId: previous?.id ?? null };
}
