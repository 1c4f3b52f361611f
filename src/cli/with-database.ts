import { connect, type GraftDatabase } from '../db/connect.js';
import { migrateToLatest, withSchemaLock } from '../db/migrate.js';

/**
 * Opens the configured database (DATABASE_URL or the embedded PGlite), brings the schema
 * up to date, runs `work`, and always closes the connection.
 */
export async function withDatabase<T>(work: (gdb: GraftDatabase) => Promise<T>, options: { migrate?: boolean } = {}): Promise<T> {
  const gdb = await connect();
  try {
    if (options.migrate !== false) await withSchemaLock(gdb, () => migrateToLatest(gdb.db));
    return await work(gdb);
  } finally {
    await gdb.close();
  }
}

/** Writes one line to stderr (progress and notes; stdout is kept for results and `--json`). */
export function note(message: string): void {
  process.stderr.write(`${message}\n`);
}
