import { sql } from 'kysely';
import type { GraftDatabase } from '../db/connect.js';
import type { Db } from '../db/database.js';
import { GraftError } from '../errors.js';
import type { Dataset, ItemTokens, Vocabulary } from './dataset.js';
import { InteractionsBuilder } from './interactions.js';
import { buildHistories } from './user-histories.js';

export interface ReadDatasetOptions {
  /** Only events that occurred strictly before this instant. */
  until?: Date;
  /** Rows per round trip (default 50 000). */
  pageSize?: number;
}

const DEFAULT_PAGE_SIZE = 50_000;
/** Ids per `= any(...)` lookup when fetching user external ids. */
const LOOKUP_CHUNK = 20_000;

/**
 * Reads one domain's behaviour log into typed arrays, page by page, so memory holds at most
 * one page of row objects (never one object per event of the whole log).
 *
 * Order and vocabularies, chosen for reproducibility (same database content, same dataset):
 * - interactions are ordered by `(occurred_at, id)`;
 * - users: dense index in order of first appearance in that order; only users with events
 *   in the domain (before `until`) are in the vocabulary;
 * - items: every item of the domain's catalogue, by database id, including items without
 *   events (so cold items have rows and tags for content features).
 *
 * Pages are keyset pages on `(occurred_at, id)` on both storages (`pg-cursor` is not a
 * dependency, and keyset pages also let other queries interleave on PGlite's one connection).
 * The log is read before the catalogue and items are never deleted by Graft, so every item an
 * event names is in the catalogue read afterwards, without holding a transaction open.
 *
 * @example
 * const ds = await readDataset(gdb, 'sport', { until: new Date('2024-06-01Z') });
 * ds.histories.items.subarray(ds.histories.offsets[u], ds.histories.offsets[u + 1]); // user u's items
 */
export async function readDataset(gdb: GraftDatabase, domain: string, options: ReadDatasetOptions = {}): Promise<Dataset> {
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(pageSize) || pageSize < 1) {
    throw new GraftError('BAD_INPUT', `pageSize ${pageSize} is not a positive integer; use e.g. 50000`);
  }
  const until = options.until?.getTime();
  if (until !== undefined && !Number.isFinite(until)) {
    throw new GraftError('BAD_INPUT', `until "${String(options.until)}" is not a valid date; pass e.g. new Date('2024-06-01T00:00:00Z')`);
  }
  const db = gdb.db;
  const domainRow = await db.selectFrom('domains').select('id').where('name', '=', domain).executeTakeFirst();
  if (!domainRow) {
    throw new GraftError('NOT_FOUND', `domain "${domain}" does not exist; import events into it first with \`graft import FILE --domain ${domain}\``);
  }
  const domainId = domainRow.id;

  const log = await readLog(db, domainId, pageSize, until);
  const { vocabulary: items, tokens: itemTokens, denseOf } = await readCatalogue(db, domainId, pageSize);
  const interactions = log.builder.build();
  // Items were kept as database ids while reading; map them to dense indexes now.
  const itemColumn = interactions.items as Int32Array;
  for (let i = 0; i < itemColumn.length; i++) {
    const dense = denseOf(itemColumn[i]);
    if (dense < 0) {
      throw new GraftError(
        'INTERNAL',
        `event of domain "${domain}" names item id ${itemColumn[i]}, which is not in the domain's catalogue; re-import the events with \`graft import\``,
      );
    }
    itemColumn[i] = dense;
  }
  const users = await readUserVocabulary(db, log.userDbIds);
  return {
    domain,
    domainId,
    users,
    items,
    interactions,
    histories: buildHistories(interactions, users.size),
    itemTokens,
  };
}

interface EventPageRow {
  id: number | string;
  user_id: number;
  item_id: number;
  weight: number;
  /** occurred_at in whole microseconds since the epoch (exact, so it can resume the keyset). */
  us: number | string;
}

/** Streams the events into typed arrays; users become dense on first appearance, items stay db ids. */
async function readLog(
  db: Db,
  domainId: number,
  pageSize: number,
  until: number | undefined,
): Promise<{ builder: InteractionsBuilder; userDbIds: Int32Array }> {
  const builder = new InteractionsBuilder(pageSize);
  let denseOfUser: Int32Array = new Int32Array(1024).fill(-1);
  let userDbIds: Int32Array = new Int32Array(1024);
  let nUsers = 0;
  let cursor: { us: number; id: number } | undefined;
  const untilUs = until === undefined ? undefined : Math.round(until * 1000);

  for (;;) {
    let query = db
      .selectFrom('events')
      .select(['id', 'user_id', 'item_id', 'weight', sql<number>`(extract(epoch from occurred_at) * 1000000)::int8`.as('us')])
      .where('domain_id', '=', domainId);
    if (cursor) {
      // A row comparison on the index columns lets Postgres start the index scan right after the cursor.
      query = query.where(
        sql<boolean>`(domain_id, occurred_at, id) > (${domainId}, ${microsToTimestamp(cursor.us)}, ${cursor.id}::int8)`,
      );
    }
    if (untilUs !== undefined) query = query.where(sql<boolean>`occurred_at < ${microsToTimestamp(untilUs)}`);
    const rows = (await query.orderBy('domain_id').orderBy('occurred_at').orderBy('id').limit(pageSize).execute()) as EventPageRow[];

    builder.reserve(rows.length);
    for (const row of rows) {
      const userDbId = row.user_id;
      if (userDbId >= denseOfUser.length) denseOfUser = growFilled(denseOfUser, userDbId + 1, -1);
      let user = denseOfUser[userDbId];
      if (user < 0) {
        user = nUsers++;
        denseOfUser[userDbId] = user;
        if (user >= userDbIds.length) userDbIds = growFilled(userDbIds, user + 1, 0);
        userDbIds[user] = userDbId;
      }
      builder.push(user, row.item_id, row.weight, Number(row.us) / 1000);
    }
    if (rows.length < pageSize) break;
    const last = rows[rows.length - 1];
    cursor = { us: Number(last.us), id: Number(last.id) };
  }
  return { builder, userDbIds: userDbIds.slice(0, nUsers) };
}

/** `timestamptz` from whole microseconds, exactly (integer arithmetic, no float seconds). */
function microsToTimestamp(us: number) {
  return sql`(timestamptz 'epoch' + ${us}::int8 * interval '1 microsecond')`;
}

/** The domain's whole catalogue by db id: vocabulary, tags in CSR, and a db id -> dense lookup. */
async function readCatalogue(
  db: Db,
  domainId: number,
  pageSize: number,
): Promise<{ vocabulary: Vocabulary; tokens: ItemTokens; denseOf: (dbId: number) => number }> {
  const ids: string[] = [];
  const dbIds: number[] = [];
  const tokens: string[] = [];
  const offsets: number[] = [0];
  let after = 0;
  for (;;) {
    const rows = await db
      .selectFrom('items')
      .select(['id', 'external_id', 'tags'])
      .where('domain_id', '=', domainId)
      .where('id', '>', after)
      .orderBy('id')
      .limit(pageSize)
      .execute();
    for (const row of rows) {
      ids.push(row.external_id);
      dbIds.push(row.id);
      for (const tag of row.tags ?? []) tokens.push(tag);
      offsets.push(tokens.length);
    }
    if (rows.length < pageSize) break;
    after = rows[rows.length - 1].id;
  }
  // Item ids of one domain are a dense-ish range of the global identity, so a flat array indexed
  // by (id - min) is both smaller and faster than a Map for a million lookups.
  const min = dbIds.length ? dbIds[0] : 0;
  const span = dbIds.length ? dbIds[dbIds.length - 1] - min + 1 : 0;
  const lookup = new Int32Array(span).fill(-1);
  for (let i = 0; i < dbIds.length; i++) lookup[dbIds[i] - min] = i;
  const denseOf = (dbId: number) => (dbId >= min && dbId - min < span ? lookup[dbId - min] : -1);
  return {
    vocabulary: vocabulary(ids, Int32Array.from(dbIds)),
    tokens: { offsets: Int32Array.from(offsets), tokens },
    denseOf,
  };
}

/** External ids of the users, in the dense order given by `dbIds`. */
async function readUserVocabulary(db: Db, dbIds: Int32Array): Promise<Vocabulary> {
  const ids = new Array<string>(dbIds.length);
  const position = new Map<number, number>();
  dbIds.forEach((id, dense) => position.set(id, dense));
  for (let from = 0; from < dbIds.length; from += LOOKUP_CHUNK) {
    const chunk = Array.from(dbIds.subarray(from, from + LOOKUP_CHUNK));
    const rows = await db
      .selectFrom('users')
      .select(['id', 'external_id'])
      .where(sql<boolean>`id = any(${chunk}::int4[])`)
      .execute();
    for (const row of rows) ids[position.get(row.id)!] = row.external_id;
  }
  const missing = ids.findIndex((id) => id === undefined);
  if (missing >= 0) {
    throw new GraftError('INTERNAL', `user id ${dbIds[missing]} has events but no row in users; re-import the events with \`graft import\``);
  }
  return vocabulary(ids, dbIds);
}

function vocabulary(ids: string[], dbIds: Int32Array): Vocabulary {
  const index = new Map<string, number>();
  for (let i = 0; i < ids.length; i++) index.set(ids[i], i);
  return { ids, dbIds, index, size: ids.length };
}

function growFilled(array: Int32Array, minLength: number, fill: number): Int32Array<ArrayBuffer> {
  const grown = new Int32Array(Math.max(minLength, array.length * 2)).fill(fill);
  grown.set(array);
  return grown;
}
