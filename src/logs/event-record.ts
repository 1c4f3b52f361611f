import type { EventKind } from '../db/tables/event.table.js';

/**
 * One behaviour event as the importer takes it: external ids, not database ids.
 *
 * @example
 * const e: EventRecord = { user: 'u17', item: 'sku-9', weight: 1, time: new Date('2024-03-01T10:00:00Z'), kind: 'view' };
 */
export interface EventRecord {
  /** External user id; global across domains (the same string is the same person everywhere). */
  user: string;
  /** External item id; unique within the import's domain. */
  item: string;
  weight: number;
  time: Date;
  kind: EventKind;
}

/**
 * One catalogue entry. Omitted fields (`undefined`) keep what the database holds; given
 * fields overwrite it, so a second import can add tags without losing titles.
 */
export interface ItemRecord {
  item: string;
  title?: string | null;
  tags?: string[];
  features?: Record<string, unknown>;
}
