import { sql } from 'kysely';
import type { GraftDatabase } from '../../db/connect.js';
import type { Recommender } from '../../serving/index.js';

export interface Health {
  status: 'ok' | 'starting' | 'unavailable';
  database: { ok: boolean; kind: string; error?: string };
  domains: Array<{ domain: string; activeModelId: string | null; loadedModelId: string | null; loadedVersion: number | null; ready: boolean }>;
}

/**
 * Ready when the database answers and, for every domain with an active model, that model
 * is the one loaded for serving (a load balancer should wait for this after a start).
 */
export async function checkHealth(gdb: GraftDatabase, recommender: Recommender): Promise<Health> {
  let domains: Array<{ name: string; active_model_id: string | null }>;
  try {
    await sql`select 1`.execute(gdb.db);
    domains = await gdb.db.selectFrom('domains').select(['name', 'active_model_id']).orderBy('name').execute();
  } catch (error) {
    return { status: 'unavailable', database: { ok: false, kind: gdb.kind, error: (error as Error).message }, domains: [] };
  }
  const loaded = new Map(recommender.loaded().map((d) => [d.domain, d]));
  const report = domains.map((d) => {
    const state = loaded.get(d.name);
    const ready = d.active_model_id === null ? true : state?.modelId === d.active_model_id;
    return { domain: d.name, activeModelId: d.active_model_id, loadedModelId: state?.modelId ?? null, loadedVersion: state?.modelVersion ?? null, ready };
  });
  return { status: report.every((d) => d.ready) ? 'ok' : 'starting', database: { ok: true, kind: gdb.kind }, domains: report };
}
