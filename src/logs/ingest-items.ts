import { sql } from 'kysely';
import type { GraftDatabase } from '../db/connect.js';
import type { Db } from '../db/database.js';
import { assertDomainName, ensureDomain } from './domain-repository.js';
import type { ItemRecord } from './event-record.js';
import { ExternalIdMap } from './external-id-map.js';
import { updateItems } from './item-repository.js';
import { finishImport, startImport } from './import-repository.js';
import type { ImportSummary } from './import-summary.js';
import { checkBatchSize, previousImportSummary } from './ingest-events.js';
import type { IngestOptions } from './ingest-options.js';
import { rebatch } from './rebatch.js';
import { validateItems } from './record-validator.js';

/**
 * Creates or updates catalogue items of `domain` (created if missing) by external id.
 * Fields a record leaves out keep their stored value. One transaction, like `ingestEvents`.
 *
 * @example
 * await ingestItems(gdb, 'sport', [[{ item: 'ball', title: 'Match ball', tags: ['football', 'outdoor'] }]]);
 */
export async function ingestItems(
  gdb: GraftDatabase,
  domain: string,
  batches: AsyncIterable<ItemRecord[]> | Iterable<ItemRecord[]>,
  options: IngestOptions = {},
): Promise<ImportSummary> {
  const started = performance.now();
  assertDomainName(domain);
  const batchSize = checkBatchSize(options.batchSize);
  return gdb.db.transaction().execute(async (trx) => {
    if (options.source) {
      const skipped = await previousImportSummary(trx, domain, 'items', options.source.hash, started);
      if (skipped) return skipped;
    }
    const domainId = await ensureDomain(trx, domain);
    const importId = options.source ? await startImport(trx, domainId, 'items', options.source) : null;
    const items = new ExternalIdMap({ table: 'items', domainId });
    let rows = 0;
    for await (const batch of rebatch(batches, batchSize)) {
      validateItems(batch, rows);
      const merged = mergeDuplicates(batch);
      await items.resolve(trx, merged.keys());
      await updateItems(trx, merged, items);
      rows += batch.length;
      options.onProgress?.({ rows, elapsedMs: performance.now() - started });
    }
    const counts = { rows, usersCreated: 0, itemsCreated: items.created };
    if (importId !== null) await finishImport(trx, importId, counts);
    return { domain, ...counts, skipped: false, importId, elapsedMs: performance.now() - started };
  });
}

/** One record per external id, later fields winning: an `update ... from` with two matches per row would pick one at random. */
function mergeDuplicates(batch: readonly ItemRecord[]): Map<string, ItemRecord> {
  const merged = new Map<string, ItemRecord>();
  for (const r of batch) {
    const before = merged.get(r.item);
    merged.set(r.item, before ? { ...before, ...withoutUndefined(r) } : r);
  }
  return merged;
}

function withoutUndefined(r: ItemRecord): ItemRecord {
  const out: ItemRecord = { item: r.item };
  if (r.title !== undefined) out.title = r.title;
  if (r.tags !== undefined) out.tags = r.tags;
  if (r.features !== undefined) out.features = r.features;
  return out;
}
