import type { ColumnType, Generated } from 'kysely';

export const EVENT_KINDS = ['view', 'click', 'purchase', 'rating'] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

/** The behaviour log: one row per interaction of a user with an item. */
export interface EventTable {
  /** bigint; read as a string by `pg`, so keep it opaque. */
  id: ColumnType<string, never, never>;
  user_id: number;
  item_id: number;
  domain_id: number;
  kind: EventKind;
  weight: number;
  occurred_at: ColumnType<Date, Date | string, Date | string>;
  import_id: number | null;
}

/** One imported file; its hash makes re-importing the same file a no-op. */
export interface ImportTable {
  id: Generated<number>;
  domain_id: number;
  /** `events` or `items`. */
  target: 'events' | 'items';
  file_name: string;
  file_hash: string;
  rows: number;
  users_created: number;
  items_created: number;
  created_at: Generated<Date>;
}
