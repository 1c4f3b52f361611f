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

/** Advisory lock key serialising schema changes across processes (Graft's and graphile-worker's migrations). */
const SCHEMA_LOCK_KEY = 727_2026;

/**
 * Runs `work` (schema changes) while holding a Postgres advisory lock, so processes starting
 * together (two `graft worker`s, a server and a worker) change the schema one at a time:
 * Kysely's migrator introspects the catalogue, which fails while another process's
 * graphile-worker migration has tables half-created. On PGlite (one process) it just runs.
 */
export async function withSchemaLock<T>(gdb: { pool?: { connect(): Promise<{ query(text: string, values?: unknown[]): Promise<unknown>; release(): void }> } }, work: () => Promise<T>): Promise<T> {
  if (!gdb.pool) return work();
  const client = await gdb.pool.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [SCHEMA_LOCK_KEY]);
    try {
      return await work();
    } finally {
      await client.query('select pg_advisory_unlock($1)', [SCHEMA_LOCK_KEY]);
    }
  } finally {
    client.release();
  }
}
