import { sql } from 'kysely';
import type { Db } from '../db/database.js';

/** The reads serving makes. Loading a domain: a handful of whole-table reads; a request: two small indexed lookups. */

export async function findServedDomain(db: Db, name: string): Promise<{ id: number; activeModelId: string | null } | undefined> {
  const row = await db.selectFrom('domains').select(['id', 'active_model_id']).where('name', '=', name).executeTakeFirst();
  return row ? { id: row.id, activeModelId: row.active_model_id } : undefined;
}

/** Active model id of each named domain that exists (one query for every loaded domain). */
export async function readActiveModelIds(db: Db, names: string[]): Promise<Map<string, string | null>> {
  if (names.length === 0) return new Map();
  const rows = await db
    .selectFrom('domains')
    .select(['name', 'active_model_id'])
    .where('name', '=', sql<string>`any(${names}::text[])`)
    .execute();
  return new Map(rows.map((r) => [r.name, r.active_model_id]));
}

export async function readModelVersion(db: Db, modelId: string): Promise<number | undefined> {
  const row = await db.selectFrom('models').select('version').where('id', '=', modelId).executeTakeFirst();
  return row?.version;
}

export async function readCatalogueRows(db: Db, domainId: number): Promise<Array<{ id: number; externalId: string; title: string | null; tags: string[] }>> {
  const rows = await db.selectFrom('items').select(['id', 'external_id', 'title', 'tags']).where('domain_id', '=', domainId).orderBy('id').execute();
  return rows.map((r) => ({ id: r.id, externalId: r.external_id, title: r.title, tags: r.tags ?? [] }));
}

/** Events per item of the domain (items without events are absent). */
export async function readEventCounts(db: Db, domainId: number): Promise<Array<{ itemId: number; count: number }>> {
  const rows = await sql<{ item_id: number; n: number }>`
    select item_id, count(*)::int as n from events where domain_id = ${domainId} group by item_id`.execute(db);
  return rows.rows.map((r) => ({ itemId: r.item_id, count: Number(r.n) }));
}

/**
 * The user's id and, when `modelId` is given, their row of that model's user embeddings
 * (null when the model has none): one indexed lookup.
 */
export async function findUserVector(db: Db, externalId: string, modelId: string | null): Promise<{ userId: number; vector: number[] | null } | undefined> {
  if (modelId === null) {
    const row = await db.selectFrom('users').select('id').where('external_id', '=', externalId).executeTakeFirst();
    return row ? { userId: row.id, vector: null } : undefined;
  }
  const row = await db
    .selectFrom('users')
    .leftJoin('embeddings', (join) =>
      join.onRef('embeddings.entity_id', '=', 'users.id').on('embeddings.model_id', '=', modelId).on('embeddings.entity_kind', '=', 'USER'),
    )
    .select(['users.id', 'embeddings.vector'])
    .where('users.external_id', '=', externalId)
    .executeTakeFirst();
  return row ? { userId: row.id, vector: row.vector ?? null } : undefined;
}

/**
 * Distinct items the user has events with in the domain, most recent first, at most `limit`
 * (an index range scan on events (user_id, domain_id, occurred_at)).
 */
export async function readUserHistory(db: Db, externalId: string, domainId: number, limit: number): Promise<number[]> {
  const rows = await sql<{ item_id: number }>`
    select e.item_id
    from events e
    where e.user_id = (select id from users where external_id = ${externalId}) and e.domain_id = ${domainId}
    group by e.item_id
    order by max(e.occurred_at) desc, e.item_id desc
    limit ${limit}`.execute(db);
  return rows.rows.map((r) => r.item_id);
}
