import { sql, type Kysely } from 'kysely';

/** Models may be trained by the JOINT strategy (source + target events from scratch). */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table models drop constraint models_strategy_check`.execute(db);
  await sql`alter table models add constraint models_strategy_check check (strategy in ('FEATURE_EXTRACTION', 'PARTIAL', 'FULL', 'JOINT'))`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  // A JOINT model cannot be kept under the old constraint: it is removed with its rows.
  await sql`delete from models where strategy = 'JOINT'`.execute(db);
  await sql`alter table models drop constraint models_strategy_check`.execute(db);
  await sql`alter table models add constraint models_strategy_check check (strategy in ('FEATURE_EXTRACTION', 'PARTIAL', 'FULL'))`.execute(db);
}
