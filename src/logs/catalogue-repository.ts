import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import type { EventKind } from '../db/tables/event.table.js';
import { numberArrayLiteral, textArrayLiteral } from './pg-array-literal.js';

export type { CatalogueItem } from './item-repository.js';

export interface CatalogueUser {
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

/** Users by external id, in one query. */
export async function findUsersByExternalIds(db: Db, ids: readonly string[]): Promise<Map<string, CatalogueUser>> {
  const out = new Map<string, CatalogueUser>();
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
