import { sql } from 'kysely';
import { expect, it } from 'vitest';
import { migrateDown, migrateToLatest, migrateToZero } from '../src/db/migrate.js';
import { migrations } from '../migrations/index.js';
import { describeEachStorage } from './support/databases.js';

async function tableNames(ctx: { db: { db: any } }): Promise<string[]> {
  const { rows } = await sql<{ table_name: string }>`
    select table_name from information_schema.tables
    where table_schema = 'public' and table_name not like 'kysely_%' order by table_name`.execute(ctx.db.db);
  return rows.map((r) => r.table_name);
}

describeEachStorage(
  'migrations',
  (ctx) => {
    it('creates every table, then reverts one step and all the way, then re-applies', async () => {
      const applied = await migrateToLatest(ctx.db.db);
      expect(applied).toEqual(Object.keys(migrations));
      expect(await tableNames(ctx)).toEqual([
        'api_keys', 'domains', 'embeddings', 'events', 'imports', 'items', 'job_events', 'jobs',
        'model_activations', 'model_artifacts', 'models', 'users',
      ]);

      expect(await migrateDown(ctx.db.db)).toEqual(['2026-12-03T1730-joint-strategy']);
      expect(await migrateDown(ctx.db.db)).toEqual(['2026-11-27T1820-jobs-and-keys']);
      expect(await tableNames(ctx)).not.toContain('jobs');
      expect(await tableNames(ctx)).toContain('models');

      await migrateToZero(ctx.db.db);
      expect(await tableNames(ctx)).toEqual([]);

      expect(await migrateToLatest(ctx.db.db)).toHaveLength(Object.keys(migrations).length);
      expect(await migrateToLatest(ctx.db.db)).toEqual([]);
    });

    it('stores JOINT as a strategy from its migration on, and only there', async () => {
      const db = ctx.db.db;
      await migrateToLatest(db);
      const { id: domainId } = await db.insertInto('domains').values({ name: 'joint', description: null, active_model_id: null }).returning('id').executeTakeFirstOrThrow();
      const joint = { domain_id: domainId, parent_model_id: null, kind: 'TRANSFER' as const, strategy: 'JOINT', status: 'READY' as const, config: '{}', metrics: '{}', transfer_report: null, backend: null, device: null, job_id: null, error: null, ready_at: null };
      await db.insertInto('models').values({ ...joint, version: 1 }).execute();
      await expect(db.insertInto('models').values({ ...joint, version: 2, strategy: 'AUTOMATIC' }).execute()).rejects.toThrow(/models_strategy_check/);
      // Reverting removes the JOINT model (the old constraint cannot hold it) and refuses new ones.
      expect(await migrateDown(db)).toEqual(['2026-12-03T1730-joint-strategy']);
      await expect(db.insertInto('models').values({ ...joint, version: 3 }).execute()).rejects.toThrow(/models_strategy_check/);
      await migrateToLatest(db);
      await db.deleteFrom('domains').where('id', '=', domainId).execute();
    });

    it('allows only one ACTIVE model per domain', async () => {
      const db = ctx.db.db;
      const { id: domainId } = await db.insertInto('domains').values({ name: 'd1', description: null, active_model_id: null }).returning('id').executeTakeFirstOrThrow();
      const base = { domain_id: domainId, parent_model_id: null, kind: 'PRETRAIN' as const, strategy: null, config: '{}', metrics: '{}', transfer_report: null, backend: null, device: null, job_id: null, error: null, ready_at: null };
      await db.insertInto('models').values({ ...base, version: 1, status: 'ACTIVE' }).execute();
      await expect(db.insertInto('models').values({ ...base, version: 2, status: 'ACTIVE' }).execute()).rejects.toThrow(/models_one_active/);
    });
  },
  { migrate: false },
);
