import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe } from 'vitest';
import { connect, type GraftDatabase, type StorageKind } from '../../src/db/connect.js';
import { migrateToLatest } from '../../src/db/migrate.js';

/** The machine's Postgres, as a superuser able to create databases. Override with GRAFT_TEST_POSTGRES_URL. */
export const ADMIN_POSTGRES_URL = process.env.GRAFT_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export const STORAGE_KINDS: StorageKind[] = ['pglite', 'postgres'];

export interface TestDatabase extends GraftDatabase {
  /** Connection string of the fresh Postgres database (undefined on PGlite). */
  url?: string;
  /** Closes and, on Postgres, drops the database. */
  dispose(): Promise<void>;
}

/** A brand-new, empty database of the given kind: in-memory PGlite, or a new database on the local Postgres. */
export async function freshDatabase(kind: StorageKind, options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  let handle: GraftDatabase;
  let url: string | undefined;
  let drop = async () => {};
  if (kind === 'pglite') {
    handle = await connect({ dataDir: 'memory://', databaseUrl: '' });
  } else {
    const name = `graft_test_${process.pid}_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: ADMIN_POSTGRES_URL });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    const parsed = new URL(ADMIN_POSTGRES_URL);
    parsed.pathname = `/${name}`;
    url = parsed.toString();
    handle = await connect({ databaseUrl: url, poolSize: 4 });
    drop = async () => {
      const c = new pg.Client({ connectionString: ADMIN_POSTGRES_URL });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    };
  }
  if (options.migrate !== false) await migrateToLatest(handle.db);
  return {
    ...handle,
    url,
    dispose: async () => {
      await handle.close();
      await drop();
    },
  };
}

/**
 * Runs a suite once per storage kind, each with a fresh migrated database for the file.
 *
 * @example
 * describeEachStorage('import', (ctx) => { it('works', async () => { await ctx.db.db.selectFrom('users')... }) });
 */
export function describeEachStorage(
  name: string,
  suite: (ctx: { readonly db: TestDatabase; readonly kind: StorageKind }) => void,
  options: { migrate?: boolean } = {},
): void {
  for (const kind of STORAGE_KINDS) {
    describe(`${name} [${kind}]`, () => {
      let current: TestDatabase | undefined;
      const ctx = {
        kind,
        get db(): TestDatabase {
          if (!current) throw new Error('database not ready: use it inside a test or hook');
          return current;
        },
      };
      beforeAll(async () => {
        current = await freshDatabase(kind, options);
      });
      afterAll(async () => {
        await current?.dispose();
      });
      suite(ctx);
    });
  }
}
