import type { ColumnType, Generated } from 'kysely';

/** An item belongs to one domain; its external id is unique within that domain. */
export interface ItemTable {
  id: Generated<number>;
  domain_id: number;
  external_id: string;
  title: string | null;
  tags: ColumnType<string[], string[] | undefined, string[]>;
  features: ColumnType<Record<string, unknown>, string | undefined, string>;
  created_at: Generated<Date>;
}
