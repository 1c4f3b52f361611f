/** What an import did. A skipped re-import has `skipped: true`, zero counts and the earlier import in `previous`. */
export interface ImportSummary {
  domain: string;
  /** Rows written by this call (0 when skipped). */
  rows: number;
  usersCreated: number;
  itemsCreated: number;
  skipped: boolean;
  /** `imports.id` of this import, or of the earlier one when skipped; null without `source`. */
  importId: number | null;
  elapsedMs: number;
  /** When skipped: the earlier import of the same file. */
  previous?: { rows: number; importedAt: Date };
}
