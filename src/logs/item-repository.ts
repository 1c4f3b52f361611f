import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import type { ItemRecord } from './event-record.js';
import type { ExternalIdMap } from './external-id-map.js';
import { numberArrayLiteral, textArrayLiteral } from './pg-array-literal.js';

/*
 * The one repository for SQL on the `items` table (reads of the catalogue for the GraphQL API,
 * datasets, serving and the explorer; the item import's update). Rows are created through
 * ExternalIdMap with the events that name them; queries that join items only for their names
 * (embeddings, histories) live with the table they read.
 */

/** An item of a domain's catalogue as readers (GraphQL, explorer) see it. */
export interface CatalogueItem {
  /** Database id (items.id). */
  rowId: number;
  domain: string;
  /** External id, unique within the domain. */
  id: string;
  title: string | null;
  tags: string[];
}

/** Items by database id, in one query. Missing ids are absent from the map. */
export async function findItemsByRowIds(db: Db, rowIds: readonly number[]): Promise<Map<number, CatalogueItem>> {
  const out = new Map<number, CatalogueItem>();
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
export async function findItemsByExternalIds(db: Db, keys: ReadonlyArray<{ domain: string; id: string }>): Promise<Map<string, CatalogueItem>> {
  const out = new Map<string, CatalogueItem>();
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

/** One page of a domain's items after db id `after`, by id: what `readDataset` builds its item vocabulary from. */
export async function readItemPage(db: Db, domainId: number, after: number, pageSize: number): Promise<Array<{ id: number; external_id: string; tags: string[] | null }>> {
  return db.selectFrom('items').select(['id', 'external_id', 'tags']).where('domain_id', '=', domainId).where('id', '>', after).orderBy('id').limit(pageSize).execute();
}

/** A domain's whole catalogue by db id, as serving holds it. */
export async function readCatalogueRows(db: Db, domainId: number): Promise<Array<{ id: number; externalId: string; title: string | null; tags: string[] }>> {
  const rows = await db.selectFrom('items').select(['id', 'external_id', 'title', 'tags']).where('domain_id', '=', domainId).orderBy('id').execute();
  return rows.map((r) => ({ id: r.id, externalId: r.external_id, title: r.title, tags: r.tags ?? [] }));
}

/** Tags of items by db id, in one query (missing ids are absent). */
export async function readItemTags(db: Db, rowIds: readonly number[]): Promise<Map<number, string[]>> {
  const rows = await db.selectFrom('items').select(['id', 'tags']).where('id', '=', sql<number>`any(${[...rowIds]}::int[])`).execute();
  return new Map(rows.map((r) => [r.id, r.tags]));
}

/** Whether the domain has an item of this external id. */
export async function itemExists(db: Db, domainId: number, externalId: string): Promise<boolean> {
  const row = await db.selectFrom('items').select('id').where('external_id', '=', externalId).where('domain_id', '=', domainId).executeTakeFirst();
  return row !== undefined;
}

/** Writes the title, tags and features the records carry (fields a record leaves out keep their stored value). */
export async function updateItems(db: Db, records: Map<string, ItemRecord>, items: ExternalIdMap): Promise<void> {
  const rows = [...records.values()]
    .filter((r) => r.title !== undefined || r.tags !== undefined || r.features !== undefined)
    .map((r) => ({ id: items.get(r.item)!, title: r.title, tags: r.tags, features: r.features }));
  if (rows.length === 0) return;
  // JSON keeps "field absent" (leave as is) apart from "field null" (clear the title).
  await sql`
    update items set
      title = case when r ? 'title' then r->>'title' else items.title end,
      tags = case when r ? 'tags' then array(select jsonb_array_elements_text(r->'tags')) else items.tags end,
      features = case when r ? 'features' then r->'features' else items.features end
    from jsonb_array_elements(${JSON.stringify(rows)}::jsonb) as r
    where items.id = (r->>'id')::int`.execute(db);
}
