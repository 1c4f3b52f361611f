import { Migrator, NO_MIGRATIONS, type Kysely, type MigrationResultSet } from 'kysely';
import { migrations } from '../../migrations/index.js';
import { GraftError } from '../errors.js';
import type { Database } from './database.js';

function migrator(db: Kysely<Database>): Migrator {
  return new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
  });
}

/** Brings the schema to the newest migration; throws a GraftError naming the migration that failed. */
export async function migrateToLatest(db: Kysely<Database>): Promise<string[]> {
  return check(await migrator(db).migrateToLatest(), 'up');
}

/** Reverts the newest applied migration (`graft migrate --down`). */
export async function migrateDown(db: Kysely<Database>): Promise<string[]> {
  return check(await migrator(db).migrateDown(), 'down');
}

/** Reverts every migration: the database ends as it was before Graft touched it. */
export async function migrateToZero(db: Kysely<Database>): Promise<string[]> {
  return check(await migrator(db).migrateTo(NO_MIGRATIONS), 'down');
}

function check({ error, results }: MigrationResultSet, direction: 'up' | 'down'): string[] {
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new GraftError(
      'INTERNAL',
      `migration ${failed} (${direction}) failed: ${(error as Error).message ?? String(error)}; the database is left at the previous migration`,
      { cause: error },
    );
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
