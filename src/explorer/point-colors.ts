import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import { readItemTags } from '../logs/item-repository.js';
import type { EmbeddingMatrix } from './embedding-matrix.js';

/** What colours the points of a projection. */
export type ColorBy = 'TAG' | 'DOMAIN' | 'POPULARITY';

export const COLOR_MODES: readonly ColorBy[] = ['TAG', 'DOMAIN', 'POPULARITY'];

export const POPULARITY_BUCKETS = ['top 1%', 'top 10%', 'rest'] as const;

/** A scatter plot stays readable with about a dozen colours: rarer tags are drawn as 'other'. */
export const MAX_TAG_COLORS = 12;

/**
 * One colour label per sampled row (SQL batched over the sample, one or two queries):
 *
 * * `TAG`: an item's most common tag (the one of its tags on most of the model's items); a
 *   user's most frequent tag over the items of their events in the model's domain. The 12
 *   most frequent labels are kept, the rest become `other`; no tag is `untagged`.
 * * `DOMAIN`: an item's domain; the domain holding most of a user's events (transferred
 *   users without target history show their source domain); `none` without events.
 * * `POPULARITY`: events per item (per user: activity) in its domain, bucketed over all
 *   of the model's rows: `top 1%`, `top 10%`, `rest` (ties share a bucket; 0 events is `rest`).
 *
 * @param rows rows of `matrix`
 */
export async function pointColors(db: Db, matrix: EmbeddingMatrix, rows: Int32Array, colorBy: ColorBy): Promise<string[]> {
  const ids = Array.from(rows, (row) => matrix.dbIds[row]);
  if (ids.length === 0) return [];
  if (colorBy === 'POPULARITY') return popularityColors(db, matrix, rows);
  if (colorBy === 'DOMAIN') return domainColors(db, matrix, rows, ids);
  return tagColors(db, matrix, ids);
}

async function tagColors(db: Db, matrix: EmbeddingMatrix, ids: number[]): Promise<string[]> {
  let labels: string[];
  if (matrix.kind === 'ITEM') {
    const tagsById = await readItemTags(db, ids);
    // Frequencies over all of the model's items, so an item gets the same colour in every sample.
    const counted = await sql<{ tag: string; items: number }>`
      select t.tag, count(distinct i.id)::int as items
      from embeddings e
      join items i on i.id = e.entity_id
      cross join lateral unnest(i.tags) as t(tag)
      where e.model_id = ${matrix.model.id} and e.entity_kind = 'ITEM'
      group by t.tag`.execute(db);
    const frequency = new Map(counted.rows.map((r) => [r.tag, r.items]));
    labels = ids.map((id) => {
      let best: string | undefined;
      for (const tag of tagsById.get(id) ?? []) {
        const f = frequency.get(tag) ?? 0;
        const b = best === undefined ? -1 : (frequency.get(best) ?? 0);
        if (f > b || (f === b && tag < best!)) best = tag;
      }
      return best ?? 'untagged';
    });
  } else {
    const result = await sql<{ user_id: number; tag: string }>`
      select distinct on (user_id) user_id, tag from (
        select e.user_id, t.tag, count(*) as uses
        from events e
        join items i on i.id = e.item_id
        cross join lateral unnest(i.tags) as t(tag)
        where e.domain_id = ${matrix.model.domainId} and e.user_id = any(${ids}::int[])
        group by e.user_id, t.tag
      ) per_tag
      order by user_id, uses desc, tag`.execute(db);
    const tagByUser = new Map(result.rows.map((r) => [r.user_id, r.tag]));
    labels = ids.map((id) => tagByUser.get(id) ?? 'untagged');
  }
  return capLabels(labels, MAX_TAG_COLORS);
}

async function domainColors(db: Db, matrix: EmbeddingMatrix, rows: Int32Array, ids: number[]): Promise<string[]> {
  const domains = await db.selectFrom('domains').select(['id', 'name']).execute();
  const nameById = new Map(domains.map((d) => [d.id, d.name]));
  if (matrix.kind === 'ITEM') return Array.from(rows, (row) => nameById.get(matrix.domainIds[row]) ?? 'none');
  const result = await sql<{ user_id: number; domain_id: number }>`
    select distinct on (user_id) user_id, domain_id from (
      select user_id, domain_id, count(*) as events
      from events
      where user_id = any(${ids}::int[])
      group by user_id, domain_id
    ) per_domain
    order by user_id, events desc, domain_id`.execute(db);
  const domainByUser = new Map(result.rows.map((r) => [r.user_id, r.domain_id]));
  return ids.map((id) => {
    const domain = domainByUser.get(id);
    return domain === undefined ? 'none' : (nameById.get(domain) ?? 'none');
  });
}

async function popularityColors(db: Db, matrix: EmbeddingMatrix, rows: Int32Array): Promise<string[]> {
  // Counted over every row of the model, not only the sample, so a bucket means the same in every sample.
  const counts = new Map<number, number>();
  if (matrix.kind === 'ITEM') {
    const domainIds = [...new Set(matrix.domainIds)];
    const result = await sql<{ id: number; events: number }>`
      select item_id as id, count(*)::int as events from events where domain_id = any(${domainIds}::int[]) group by item_id`.execute(db);
    for (const r of result.rows) counts.set(r.id, r.events);
  } else {
    const result = await sql<{ id: number; events: number }>`
      select user_id as id, count(*)::int as events from events where domain_id = ${matrix.model.domainId} group by user_id`.execute(db);
    for (const r of result.rows) counts.set(r.id, r.events);
  }
  const all = Float64Array.from(matrix.dbIds, (id) => counts.get(id) ?? 0).sort().reverse();
  const threshold = (share: number) => all[Math.max(0, Math.ceil(share * all.length) - 1)];
  const top1 = threshold(0.01);
  const top10 = threshold(0.1);
  return Array.from(rows, (row) => {
    const c = counts.get(matrix.dbIds[row]) ?? 0;
    if (c > 0 && c >= top1) return POPULARITY_BUCKETS[0];
    if (c > 0 && c >= top10) return POPULARITY_BUCKETS[1];
    return POPULARITY_BUCKETS[2];
  });
}

/** Keeps the `max` most frequent labels (ties by name) and replaces the rest with 'other'. */
export function capLabels(labels: string[], max: number): string[] {
  const frequency = new Map<string, number>();
  for (const label of labels) frequency.set(label, (frequency.get(label) ?? 0) + 1);
  if (frequency.size <= max) return labels;
  const kept = new Set(
    [...frequency.entries()]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, max)
      .map(([label]) => label),
  );
  return labels.map((label) => (kept.has(label) ? label : 'other'));
}
