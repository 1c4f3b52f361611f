import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import type { Db } from '../../src/db/database.js';

/** Writes a file to import into `dir`; returns its path. */
export function writeImportFile(dir: string, name: string, content: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

/** Rows per table an import touches: what "nothing written" is checked against. */
export async function importCounts(db: Db): Promise<Record<string, number>> {
  const { rows } = await sql<Record<string, number>>`
    select (select count(*)::int from users) as users, (select count(*)::int from items) as items,
           (select count(*)::int from events) as events, (select count(*)::int from imports) as imports,
           (select count(*)::int from domains) as domains`.execute(db);
  return rows[0]!;
}
