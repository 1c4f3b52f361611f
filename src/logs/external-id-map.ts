import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import { GraftError } from '../errors.js';
import { textArrayLiteral } from './pg-array-literal.js';

/**
 * External id -> database id for users (global) or one domain's items, filled as an import
 * goes: each batch asks the database only about ids this import has not met yet, and
 * creates the unseen ones in the same statement.
 *
 * @example
 * const users = new ExternalIdMap({ table: 'users' });
 * await users.resolve(trx, ['u1', 'u2']);
 * users.get('u1'); // 42
 */
export class ExternalIdMap {
  private readonly ids = new Map<string, number>();
  /** Rows this map inserted (ids that did not exist before). */
  created = 0;

  constructor(private readonly scope: { table: 'users' } | { table: 'items'; domainId: number }) {}

  get(externalId: string): number | undefined {
    return this.ids.get(externalId);
  }

  /** Makes every given external id known, inserting the ones missing from the database. Duplicates are fine. */
  async resolve(db: Db, externalIds: Iterable<string>): Promise<void> {
    const missing: string[] = [];
    const seen = new Set<string>();
    for (const id of externalIds) {
      if (!this.ids.has(id) && !seen.has(id)) {
        seen.add(id);
        missing.push(id);
      }
    }
    if (missing.length === 0) return;
    const list = textArrayLiteral(missing);
    // One round trip: insert the unseen, and read the ones that already existed. The
    // select half runs on the statement's snapshot, so it never sees the rows the insert
    // half creates, and no id is counted twice.
    const query =
      this.scope.table === 'users'
        ? sql<{ id: number; external_id: string; created: boolean }>`
            with input as (select unnest(${list}::text[]) as external_id),
            inserted as (
              insert into users (external_id) select external_id from input order by external_id
              on conflict (external_id) do nothing returning id, external_id)
            select id, external_id, true as created from inserted
            union all
            select id, external_id, false from users where external_id in (select external_id from input)`
        : sql<{ id: number; external_id: string; created: boolean }>`
            with input as (select unnest(${list}::text[]) as external_id),
            inserted as (
              insert into items (domain_id, external_id) select ${this.scope.domainId}, external_id from input order by external_id
              on conflict (domain_id, external_id) do nothing returning id, external_id)
            select id, external_id, true as created from inserted
            union all
            select id, external_id, false from items
            where domain_id = ${this.scope.domainId} and external_id in (select external_id from input)`;
    const { rows } = await query.execute(db);
    for (const row of rows) {
      this.ids.set(row.external_id, row.id);
      if (row.created) this.created++;
    }
    if (rows.length < missing.length) await this.readCommittedByOthers(db, missing);
  }

  /** A concurrent import committed some of these after our statement's snapshot: read them now. */
  private async readCommittedByOthers(db: Db, externalIds: string[]): Promise<void> {
    const rest = externalIds.filter((id) => !this.ids.has(id));
    const list = textArrayLiteral(rest);
    const { rows } =
      this.scope.table === 'users'
        ? await sql<{ id: number; external_id: string }>`
            select id, external_id from users where external_id = any(${list}::text[])`.execute(db)
        : await sql<{ id: number; external_id: string }>`
            select id, external_id from items
            where domain_id = ${this.scope.domainId} and external_id = any(${list}::text[])`.execute(db);
    for (const row of rows) this.ids.set(row.external_id, row.id);
    const lost = rest.find((id) => !this.ids.has(id));
    if (lost !== undefined) {
      throw new GraftError('INTERNAL', `${this.scope.table.slice(0, -1)} "${lost}" was neither created nor found; retry the import`);
    }
  }
}
