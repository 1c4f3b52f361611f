import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect } from 'kysely';
import { PGliteDialect } from 'kysely-pglite-dialect';
import pg from 'pg';
import { mkdirSync } from 'node:fs';
import { GraftError } from '../errors.js';
import type { Database } from './database.js';

export type StorageKind = 'postgres' | 'pglite';

/** An open Graft database: the Kysely handle plus what kind of storage is behind it. */
export interface GraftDatabase {
  db: Kysely<Database>;
  kind: StorageKind;
  /** Connection string on Postgres; `pglite:<dir>` or `pglite:memory` on the embedded default. */
  location: string;
  /** The `pg` pool on Postgres (for COPY, LISTEN/NOTIFY and graphile-worker); undefined on PGlite. */
  pool?: pg.Pool;
  /** The PGlite instance on the embedded default. */
  pglite?: PGlite;
  close(): Promise<void>;
}

export interface ConnectOptions {
  /** `postgres://...`; when absent, PGlite is used. */
  databaseUrl?: string;
  /** PGlite data folder; `memory://` or `:memory:` for an in-memory database. */
  dataDir?: string;
  /** Max pool size on Postgres. */
  poolSize?: number;
}

// int8 (bigint) stays a string by default; counts and ids we read fit in a double.
pg.types.setTypeParser(20, (value) => Number(value));

/**
 * Opens the database named by the options or the environment: `DATABASE_URL` selects
 * Postgres, otherwise PGlite in `GRAFT_DATA_DIR` (default `./.graft`).
 *
 * @example
 * const { db, close } = await connect();            // embedded default
 * const pgDb = await connect({ databaseUrl: 'postgres://127.0.0.1/test' });
 */
export async function connect(options: ConnectOptions = {}): Promise<GraftDatabase> {
  const databaseUrl = options.databaseUrl ?? process.env.DATABASE_URL;
  if (databaseUrl) return connectPostgres(databaseUrl, options.poolSize ?? 10);
  return connectPglite(options.dataDir ?? process.env.GRAFT_DATA_DIR ?? './.graft');
}

async function connectPostgres(url: string, poolSize: number): Promise<GraftDatabase> {
  if (!/^postgres(ql)?:\/\//.test(url)) {
    throw new GraftError(
      'BAD_INPUT',
      `DATABASE_URL "${redact(url)}" is not a Postgres URL; use postgres://user@host:5432/dbname, or unset it to use the embedded database`,
    );
  }
  const pool = new pg.Pool({ connectionString: url, max: poolSize });
  // An idle connection the server ends (restart, failover, pg_terminate_backend, a dropped
  // database) is removed by the pool and the next query opens another; without a listener
  // node-postgres re-emits that error on the pool and the process dies.
  pool.on('error', () => undefined);
  try {
    const client = await pool.connect();
    client.release();
  } catch (cause) {
    await pool.end().catch(() => undefined);
    throw new GraftError(
      'UNAVAILABLE',
      `cannot connect to Postgres at ${redact(url)}: ${(cause as Error).message}; check that the server runs and the URL is right`,
      { cause },
    );
  }
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    kind: 'postgres',
    location: redact(url),
    pool,
    close: () => db.destroy(),
  };
}

async function connectPglite(dataDir: string): Promise<GraftDatabase> {
  const inMemory = dataDir === ':memory:' || dataDir.startsWith('memory://');
  if (!inMemory) mkdirSync(dataDir, { recursive: true });
  const pglite = inMemory ? new PGlite() : new PGlite(dataDir);
  await pglite.waitReady;
  const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) });
  return {
    db,
    kind: 'pglite',
    location: inMemory ? 'pglite:memory' : `pglite:${dataDir}`,
    pglite,
    close: async () => {
      await db.destroy();
      if (!pglite.closed) await pglite.close();
    },
  };
}

/** The URL without its password, whatever its scheme (also when it is not a URL at all). */
export function redact(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)?([^:@/]*):.*@/i, '$1$2:***@');
}
