import { sql } from 'kysely';
import type { GraftDatabase } from '../db/connect.js';
import type { Db } from '../db/database.js';
import type { EventKind } from '../db/tables/event.table.js';
import { GraftError } from '../errors.js';
import { assertDomainName, ensureDomain, findDomainId } from './domain-repository.js';
import type { EventRecord } from './event-record.js';
import { dropEventIndexes, recreateEventIndexes, shouldRebuildIndexes } from './event-indexes.js';
import { notifyEventsRecorded } from './events-notification.js';
import { ExternalIdMap } from './external-id-map.js';
import { findImport, finishImport, startImport } from './import-repository.js';
import type { ImportSummary } from './import-summary.js';
import { DEFAULT_BATCH_SIZE, type IngestOptions } from './ingest-options.js';
import { numberArrayLiteral, textArrayLiteral } from './pg-array-literal.js';
import { rebatch } from './rebatch.js';
import { validateEvents } from './record-validator.js';

/** Imports at least this large refresh the planner's statistics of `events` before commit. */
const ANALYZE_AFTER_ROWS = 10_000;

/**
 * Writes behaviour events into `domain` (created if missing), creating unseen users and
 * items on the way. All-or-nothing: one transaction; on any error the database is exactly
 * as before. With `options.source`, a second import of the same file is skipped.
 *
 * @example
 * const summary = await ingestEvents(gdb, 'sport', [[
 *   { user: 'u1', item: 'ball', weight: 1, time: new Date(), kind: 'view' },
 * ]]);
 * summary.usersCreated; // 1 on an empty database
 */
export async function ingestEvents(
  gdb: GraftDatabase,
  domain: string,
  batches: AsyncIterable<EventRecord[]> | Iterable<EventRecord[]>,
  options: IngestOptions = {},
): Promise<ImportSummary> {
  const started = performance.now();
  assertDomainName(domain);
  const batchSize = checkBatchSize(options.batchSize);
  const policy = { allowNonPositiveWeights: options.allowNonPositiveWeights, now: Date.now(), latestTime: options.latestTime };
  return gdb.db.transaction().execute(async (trx) => {
    if (options.source) {
      const skipped = await previousImportSummary(trx, domain, 'events', options.source.hash, started);
      if (skipped) return skipped;
    }
    const domainId = await ensureDomain(trx, domain);
    const importId = options.source ? await startImport(trx, domainId, 'events', options.source) : null;
    const rebuild = await shouldRebuildIndexes(trx, options.rebuildIndexes ?? 'auto', options.expectedRows);
    const droppedIndexes = rebuild ? await dropEventIndexes(trx) : [];
    const users = new ExternalIdMap({ table: 'users' });
    const items = new ExternalIdMap({ table: 'items', domainId });
    let rows = 0;
    // At most one insert in flight: while Postgres writes batch N, JS parses batch N+1.
    let pending: Promise<unknown> | undefined;
    try {
      for await (const batch of rebatch(batches, batchSize)) {
        validateEvents(batch, rows, policy);
        await users.resolve(trx, batch.map((e) => e.user));
        await items.resolve(trx, batch.map((e) => e.item));
        const insert = insertEvents(trx, domainId, importId, batch, users, items);
        insert.catch(() => undefined); // observed below; keeps Node from flagging it unhandled meanwhile
        if (pending) await pending;
        pending = insert;
        rows += batch.length;
        options.onProgress?.({ rows, elapsedMs: performance.now() - started });
      }
      if (pending) await pending;
    } finally {
      // On failure, let the in-flight insert settle before Kysely rolls back on the same connection.
      if (pending) await pending.catch(() => undefined);
    }
    await recreateEventIndexes(trx, droppedIndexes);
    // PGlite never runs autovacuum, and on Postgres autoanalyze lags a big load: without
    // fresh statistics the planner misjudges the log (e.g. sorts instead of walking an index).
    if (rows >= ANALYZE_AFTER_ROWS) await sql`analyze events`.execute(trx);
    const counts = { rows, usersCreated: users.created, itemsCreated: items.created };
    if (importId !== null) await finishImport(trx, importId, counts);
    // Serving processes forget what they cached of this domain's users once this commits.
    if (rows > 0) await notifyEventsRecorded(trx, domain);
    return { domain, ...counts, skipped: false, importId, elapsedMs: performance.now() - started };
  });
}

/** The summary of a skipped import when this file already went into this domain, else undefined. */
export async function previousImportSummary(
  db: Db,
  domain: string,
  target: 'events' | 'items',
  hash: string,
  started: number,
): Promise<ImportSummary | undefined> {
  const domainId = await findDomainId(db, domain);
  if (domainId === undefined) return undefined;
  const previous = await findImport(db, domainId, target, hash);
  if (!previous) return undefined;
  return {
    domain,
    rows: 0,
    usersCreated: 0,
    itemsCreated: 0,
    skipped: true,
    importId: previous.id,
    elapsedMs: performance.now() - started,
    previous: { rows: previous.rows, importedAt: previous.createdAt },
  };
}

export function checkBatchSize(batchSize: number | undefined): number {
  const size = batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(size) || size < 1) {
    throw new GraftError('BAD_INPUT', `batchSize ${size} is not a positive integer; use e.g. ${DEFAULT_BATCH_SIZE}`);
  }
  return size;
}

export async function insertEvents(
  db: Db,
  domainId: number,
  importId: number | null,
  batch: readonly EventRecord[],
  users: ExternalIdMap,
  items: ExternalIdMap,
): Promise<void> {
  const n = batch.length;
  const userIds = new Int32Array(n);
  const itemIds = new Int32Array(n);
  const weights = new Float64Array(n);
  const times = new Float64Array(n);
  const kinds: EventKind[] = new Array(n);
  let oneKind: EventKind | undefined = batch[0]?.kind;
  let baseTime = Number.POSITIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const e = batch[i]!;
    userIds[i] = users.get(e.user)!;
    itemIds[i] = items.get(e.item)!;
    weights[i] = e.weight;
    const t = e.time.getTime();
    times[i] = t;
    if (t < baseTime) baseTime = t;
    kinds[i] = e.kind;
    if (e.kind !== oneKind) oneKind = undefined;
  }
  // Times go as offsets from the batch's earliest: small integers print several times
  // faster than 13-digit epoch milliseconds, and this loop runs a million times per import.
  for (let i = 0; i < n; i++) times[i] = times[i]! - baseTime;
  // Most files have one kind: send it once instead of once per row.
  const kindColumn = oneKind !== undefined ? sql`${oneKind}::text` : sql`k`;
  const kindSource = oneKind !== undefined ? sql`` : sql`, ${textArrayLiteral(kinds)}::text[]`;
  const kindAlias = oneKind !== undefined ? sql`` : sql`, k`;
  // Epoch milliseconds as float8; to_timestamp keeps them exact to the microsecond.
  await sql`
    insert into events (user_id, item_id, domain_id, kind, weight, occurred_at, import_id)
    select u, i, ${domainId}::int, ${kindColumn}, w, to_timestamp((${baseTime}::float8 + t) / 1000), ${importId}::int
    from unnest(${numberArrayLiteral(userIds)}::int[], ${numberArrayLiteral(itemIds)}::int[],
                ${numberArrayLiteral(weights)}::float8[], ${numberArrayLiteral(times)}::float8[]${kindSource})
         as x(u, i, w, t${kindAlias})`.execute(db);
}
