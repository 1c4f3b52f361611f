import type { Db } from '../db/database.js';
import type { ImportTable } from '../db/tables/event.table.js';

type Target = ImportTable['target'];

export interface PreviousImport {
  id: number;
  rows: number;
  createdAt: Date;
}

/** The earlier import of the same file into the same domain and table, if any. */
export async function findImport(db: Db, domainId: number, target: Target, fileHash: string): Promise<PreviousImport | undefined> {
  const row = await db
    .selectFrom('imports')
    .select(['id', 'rows', 'created_at'])
    .where('domain_id', '=', domainId)
    .where('target', '=', target)
    .where('file_hash', '=', fileHash)
    .executeTakeFirst();
  return row && { id: row.id, rows: row.rows, createdAt: new Date(row.created_at) };
}

/** Records an import before its rows are written, so events can carry its id; counts are filled in by `finishImport`. */
export async function startImport(db: Db, domainId: number, target: Target, source: { fileName: string; hash: string }): Promise<number> {
  const row = await db
    .insertInto('imports')
    .values({ domain_id: domainId, target, file_name: source.fileName, file_hash: source.hash, rows: 0, users_created: 0, items_created: 0 })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export async function finishImport(db: Db, importId: number, counts: { rows: number; usersCreated: number; itemsCreated: number }): Promise<void> {
  await db
    .updateTable('imports')
    .set({ rows: counts.rows, users_created: counts.usersCreated, items_created: counts.itemsCreated })
    .where('id', '=', importId)
    .execute();
}
