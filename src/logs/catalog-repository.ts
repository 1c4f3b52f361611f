import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import type { EventKind } from '../db/tables/event.table.js';
import { numberArrayLiteral, textArrayLiteral } from './pg-array-literal.js';

/** An item of a domain's catalogue as readers (GraphQL, explorer) see it. */
export interface CatalogItem {
  /** Database id (items.id). */
  rowId: number;
  domain: string;
  /** External id, unique within the domain. */
  id: string;
  title: string | null;
  tags: string[];
}

export interface CatalogUser {
  rowId: number;
  id: string;
}

/** One event of a user's history, newest first. */
export interface HistoryEntry {
  itemRowId: number;
  kind: EventKind;
  weight: number;
  occurredAt: Date;
}

/** Items by database id, in one query. Missing ids are absent from the map. */
export async function findItemsByRowIds(db: Db, rowIds: readonly number[]): Promise<Map<number, CatalogItem>> {
  const out = new Map<number, CatalogItem>();
  if (rowIds.length === 0) return out;
  const rows = await db
    .selectFrom('items')
    .innerJoin('domains', 'domains.id', 'items.domain_id')
    .select(['items.id', 'items.external_id', 'items.title', 'items.tags', 'domains.name'])
    .where('items.id', '=', sql<number>`any(${numberArrayLiteral(Int32Array.from(rowIds))}::int[])`)
    .execute();
  for (const r of rows) out.set(r.id, { rowId: r.id, domain: r.name, id: r.external_id, title: r.title, tags: r.tags });
  return out;
}

/** Items by (domain, external id) pairs, in one query. Keyed by `itemKey(domain, id)`. */
export async function findItemsByExternalIds(db: Db, keys: ReadonlyArray<{ domain: string; id: string }>): Promise<Map<string, CatalogItem>> {
  const out = new Map<string, CatalogItem>();
  if (keys.length === 0) return out;
  const rows = await sql<{ id: number; external_id: string; title: string | null; tags: string[]; name: string }>`
    select i.id, i.external_id, i.title, i.tags, d.name
    from unnest(${textArrayLiteral(keys.map((k) => k.domain))}::text[], ${textArrayLiteral(keys.map((k) => k.id))}::text[]) as k(domain, external_id)
    join domains d on d.name = k.domain
    join items i on i.domain_id = d.id and i.external_id = k.external_id`.execute(db);
  for (const r of rows.rows) out.set(itemKey(r.name, r.external_id), { rowId: r.id, domain: r.name, id: r.external_id, title: r.title, tags: r.tags });
  return out;
}

export function itemKey(domain: string, id: string): string {
  return `${domain}\u0000${id}`;
}

/** Users by external id, in one query. */
export async function findUsersByExternalIds(db: Db, ids: readonly string[]): Promise<Map<string, CatalogUser>> {
  const out = new Map<string, CatalogUser>();
  if (ids.length === 0) return out;
  const rows = await db.selectFrom('users').select(['id', 'external_id']).where('external_id', 'in', [...ids]).execute();
  for (const r of rows) out.set(r.external_id, { rowId: r.id, id: r.external_id });
  return out;
}

/**
 * The newest `limit` events of each (user, domain) request, in one query (a lateral
 * walk of the (user_id, domain_id, occurred_at) index per request). Result i answers request i.
 */
export async function recentHistories(
  db: Db,
  requests: ReadonlyArray<{ userRowId: number; domain: string; limit: number }>,
): Promise<HistoryEntry[][]> {
  const out: HistoryEntry[][] = requests.map(() => []);
  if (requests.length === 0) return out;
  const rows = await sql<{ ord: string; item_id: number; kind: EventKind; weight: number; occurred_at: Date }>`
    select k.ord, e.item_id, e.kind, e.weight, e.occurred_at
    from unnest(${numberArrayLiteral(Int32Array.from(requests.map((r) => r.userRowId)))}::int[],
                ${textArrayLiteral(requests.map((r) => r.domain))}::text[],
                ${numberArrayLiteral(Int32Array.from(requests.map((r) => r.limit)))}::int[]) with ordinality as k(u, domain, l, ord)
    join domains d on d.name = k.domain
    cross join lateral (
      select item_id, kind, weight, occurred_at from events
      where user_id = k.u and domain_id = d.id
      order by occurred_at desc limit k.l
    ) e
    order by k.ord, e.occurred_at desc`.execute(db);
  for (const r of rows.rows) {
    out[Number(r.ord) - 1]!.push({ itemRowId: r.item_id, kind: r.kind, weight: Number(r.weight), occurredAt: r.occurred_at });
  }
  return out;
}

/** Domains with catalogue and log sizes (for listings; counts are exact, so keep this off hot paths). */
export async function listDomains(db: Db): Promise<Array<{ id: number; name: string; description: string | null; activeModelId: string | null; items: number }>> {
  const rows = await db
    .selectFrom('domains')
    .leftJoin('items', 'items.domain_id', 'domains.id')
    .select(['domains.id', 'domains.name', 'domains.description', 'domains.active_model_id'])
    .select((eb) => eb.fn.count<string>('items.id').as('items'))
    .groupBy('domains.id')
    .orderBy('domains.name')
    .execute();
  return rows.map((r) => ({ id: r.id, name: r.name, description: r.description, activeModelId: r.active_model_id, items: Number(r.items) }));
}
