import { sql } from 'kysely';
import type { Db } from '../../src/db/database.js';

/**
 * Registers a copy of a model (same weights, artifacts and embeddings) as the next READY
 * version of its domain: a real, servable second version for activation tests, without
 * training again.
 */
export async function cloneModel(db: Db, modelId: string): Promise<string> {
  const row = await sql<{ id: string }>`
    insert into models (domain_id, version, parent_model_id, kind, strategy, status, config, metrics, transfer_report, negative_transfer, backend, device, ready_at)
    select domain_id, (select max(version) + 1 from models m2 where m2.domain_id = models.domain_id), parent_model_id, kind, strategy, 'READY',
           config, metrics, transfer_report, negative_transfer, backend, device, now()
    from models where id = ${modelId}
    returning id`.execute(db);
  const clone = row.rows[0]!.id;
  await sql`insert into model_artifacts (model_id, name, kind, dtype, shape, data)
            select ${clone}, name, kind, dtype, shape, data from model_artifacts where model_id = ${modelId}`.execute(db);
  await sql`insert into embeddings (model_id, entity_kind, entity_id, vector)
            select ${clone}, entity_kind, entity_id, vector from embeddings where model_id = ${modelId}`.execute(db);
  return clone;
}
