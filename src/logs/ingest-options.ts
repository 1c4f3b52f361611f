import type { RebuildIndexes } from './event-indexes.js';

/** How far an import has got; passed to `IngestOptions.onProgress` after each batch. */
export interface ImportProgress {
  /** Rows written so far. */
  rows: number;
  elapsedMs: number;
  /** File imports only: line count of the file (header included), for a progress bar. */
  estimatedRows?: number;
}

/** Options shared by `ingestEvents` and `ingestItems`. */
export interface IngestOptions {
  /** When set, the import is recorded in `imports` and skipped (returns {skipped:true}) if the same (domain, target, hash) was already imported. */
  source?: { fileName: string; hash: string };
  onProgress?: (p: ImportProgress) => void;
  /** Rows per insert statement; incoming batches are regrouped to this size. Default 10 000. */
  batchSize?: number;
  /** About how many rows are coming (file imports pass the line count); lets `rebuildIndexes: 'auto'` decide. */
  expectedRows?: number;
  /**
   * Events only. `auto` (default): drop the indexes of `events` and rebuild them at the end
   * when the import is at least as large as the table (an initial load; ~5x faster). The
   * table is locked for readers until the import commits. See `event-indexes.ts`.
   */
  rebuildIndexes?: RebuildIndexes;
  /** Events only. Accept weights <= 0 (rejected by default); see `RecordPolicy.allowNonPositiveWeights` for what they do in training. */
  allowNonPositiveWeights?: boolean;
  /** Events only. Latest accepted event time (ms); default a day after the import starts. See `RecordPolicy.latestTime`. */
  latestTime?: number;
}

export const DEFAULT_BATCH_SIZE = 10_000;
