import { basename } from 'node:path';
import type { GraftDatabase } from '../db/connect.js';
import type { EventKind } from '../db/tables/event.table.js';
import { GraftError } from '../errors.js';
import type { EventRecord, ItemRecord } from './event-record.js';
import type { RebuildIndexes } from './event-indexes.js';
import { hashFile } from './file-hash.js';
import type { ImportSummary } from './import-summary.js';
import { ingestEvents } from './ingest-events.js';
import { ingestItems } from './ingest-items.js';
import { DEFAULT_BATCH_SIZE, type ImportProgress } from './ingest-options.js';
import { EventLineParser, FILE_FORMATS, formatFromPath, ItemLineParser, type FileFormat } from './line-parser.js';
import { readLines } from './line-reader.js';
import { MAX_FUTURE_MS } from './record-validator.js';

export interface FileImportOptions {
  domain: string;
  /** Default: from the extension (.tsv/.txt tsv, .csv, .jsonl). */
  format?: FileFormat;
  /** Field names in order (tsv/csv), e.g. ['user', 'item', 'weight']; `_` skips a field. */
  columns?: string[];
  /** Whether the first line is a header naming the columns (tsv/csv). Default true. */
  header?: boolean;
  onProgress?: (p: ImportProgress) => void;
  batchSize?: number;
}

export interface EventsFileImportOptions extends FileImportOptions {
  /** Kind of every row without a `kind` column. Default `view`. */
  kind?: EventKind;
  /** See `IngestOptions.rebuildIndexes`; default `auto`. */
  rebuildIndexes?: RebuildIndexes;
  /** Accept weights <= 0 (rejected by default); see `RecordPolicy.allowNonPositiveWeights` for what they do in training. */
  allowNonPositiveWeights?: boolean;
}

/**
 * Imports a behaviour log file (tsv, csv or jsonl) into a domain: streamed, batched, one
 * transaction. A bad line aborts with `FILE:LINE: problem; fix` and leaves the database
 * as it was; importing the same file into the same domain twice adds nothing.
 *
 * @example
 * const s = await importEventsFile(gdb, 'sport/train.txt', { domain: 'sport', header: false, columns: ['user', 'item', 'weight'] });
 * console.log(`${s.rows} events, ${s.usersCreated} new users`);
 */
export async function importEventsFile(gdb: GraftDatabase, path: string, options: EventsFileImportOptions): Promise<ImportSummary> {
  const format = checkFormat(options.format ?? formatFromPath(path));
  const { hash, lines } = await hashFileOrExplain(path);
  // Rows without a time are spaced 1 ms apart from the start of the import, keeping line order.
  const now = Date.now();
  const parser = new EventLineParser({
    file: path,
    format,
    columns: options.columns,
    header: options.header,
    kind: options.kind,
    syntheticTimeBase: now,
    allowNonPositiveWeights: options.allowNonPositiveWeights,
    now,
  });
  return ingestEvents(gdb, options.domain, parsedBatches(path, parser, options.batchSize ?? DEFAULT_BATCH_SIZE), {
    source: { fileName: basename(path), hash },
    batchSize: options.batchSize,
    expectedRows: lines,
    rebuildIndexes: options.rebuildIndexes,
    allowNonPositiveWeights: options.allowNonPositiveWeights,
    // The parser checked the file's own times against now + a day; this only admits its synthetic ones.
    latestTime: now + lines + 1 + MAX_FUTURE_MS,
    onProgress: withEstimate(options.onProgress, lines),
  });
}

/**
 * Imports an items file (columns item, title, tags, features; tags separated by `|` or `;`,
 * a JSON array in jsonl) into a domain, creating or updating items by external id.
 *
 * @example
 * await importItemsFile(gdb, 'items.csv', { domain: 'sport' }); // header: item,title,tags
 */
export async function importItemsFile(gdb: GraftDatabase, path: string, options: FileImportOptions): Promise<ImportSummary> {
  const format = checkFormat(options.format ?? formatFromPath(path));
  const { hash, lines } = await hashFileOrExplain(path);
  const parser = new ItemLineParser({ file: path, format, columns: options.columns, header: options.header });
  return ingestItems(gdb, options.domain, parsedBatches(path, parser, options.batchSize ?? DEFAULT_BATCH_SIZE), {
    source: { fileName: basename(path), hash },
    batchSize: options.batchSize,
    onProgress: withEstimate(options.onProgress, lines),
  });
}

async function* parsedBatches<T extends EventRecord | ItemRecord>(
  path: string,
  parser: { parse(line: string, lineNo: number): T | undefined; finish(): void },
  batchSize: number,
): AsyncGenerator<T[]> {
  let batch: T[] = [];
  let lineNo = 0;
  for await (const lines of readLines(path)) {
    for (const line of lines) {
      const record = parser.parse(line, ++lineNo);
      if (record === undefined) continue;
      batch.push(record);
      if (batch.length === batchSize) {
        yield batch;
        batch = [];
      }
    }
  }
  parser.finish();
  if (batch.length > 0) yield batch;
}

function checkFormat(format: string): FileFormat {
  if (!(FILE_FORMATS as readonly string[]).includes(format)) {
    throw new GraftError('BAD_INPUT', `format "${format}" is unknown; use ${FILE_FORMATS.join(', ')}`);
  }
  return format as FileFormat;
}

async function hashFileOrExplain(path: string): Promise<{ hash: string; lines: number }> {
  try {
    return await hashFile(path);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new GraftError('NOT_FOUND', `file "${path}" does not exist; check the path`, { cause });
    if (code === 'EISDIR') throw new GraftError('BAD_INPUT', `"${path}" is a directory; give the path of a file`, { cause });
    throw new GraftError('BAD_INPUT', `cannot read "${path}": ${(cause as Error).message}`, { cause });
  }
}

function withEstimate(onProgress: ((p: ImportProgress) => void) | undefined, lines: number) {
  return onProgress && ((p: ImportProgress) => onProgress({ ...p, estimatedRows: lines }));
}
