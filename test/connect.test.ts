import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_POSTGRES_URL, freshDatabase, type TestDatabase } from './support/databases.js';

// Postgres only: PGlite runs in the process and has no server connections to lose.
describe('database connection [postgres]', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await freshDatabase('postgres');
  });
  afterAll(async () => {
    await db?.dispose();
  });

  it('survives the server ending an idle connection (restart, failover, admin): the next query reconnects', async () => {
    const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db.db);
    const admin = new pg.Client({ connectionString: ADMIN_POSTGRES_URL });
    await admin.connect();
    try {
      await admin.query('select pg_terminate_backend($1)', [rows[0]!.pid]);
    } finally {
      await admin.end();
    }
    await new Promise((resolve) => setTimeout(resolve, 200)); // the pool hears of it while the connection is idle
    const again = await sql<{ one: number }>`select 1 as one`.execute(db.db);
    expect(again.rows[0]!.one).toBe(1);
  });
});

describe('DATABASE_URL in messages', () => {
  it('an unknown scheme is refused without printing the password', async () => {
    const { connect } = await import('../src/db/connect.js');
    const error = await connect({ databaseUrl: 'mysql://graft:s3cret-pw@db.internal:3306/graft' }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).toMatch(/DATABASE_URL "mysql:\/\/graft:\*\*\*@db\.internal:3306\/graft" is not a Postgres URL/);
    expect(error?.message).not.toContain('s3cret');
    const bare = await connect({ databaseUrl: 'graft:s3cret-pw@db.internal/graft' }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(bare?.message).not.toContain('s3cret');
  });
});
