import type { Kysely, Transaction } from 'kysely';
import type { Database, Db } from './database.js';

/** Runs `work` in the caller's transaction if `db` is one, else in a new transaction. */
export async function inTransaction<T>(db: Db, work: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
  if (db.isTransaction) return work(db as Transaction<Database>);
  return (db as Kysely<Database>).transaction().execute(work);
}
