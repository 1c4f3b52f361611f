import type { GraftDatabase } from '../src/db/connect.js';
import { GraftError } from '../src/errors.js';
import { ingestEvents, ingestItems } from '../src/logs/index.js';
import { generateCrossDomain, type CrossDomain, type CrossDomainOptions, type SyntheticDomain } from './synthetic-domains.js';

export interface SeedOptions extends CrossDomainOptions {
  /** Replace the events, items and import records the two domains already hold. */
  force?: boolean;
  /** Rows per insert (default: the importer's). */
  batchSize?: number;
  onProgress?: (p: { domain: string; phase: 'items' | 'events'; rows: number; total: number }) => void;
}

export interface SeedSummary {
  users: number;
  /** Users without target history. */
  coldStartUsers: number;
  domains: Array<{ name: string; role: 'source' | 'target'; items: number; events: number; usersWithEvents: number }>;
  elapsedMs: number;
  /** The generated world (planted truth included), for callers that evaluate against it. */
  world: CrossDomain;
}

/**
 * Generates the synthetic source and target domains and writes them through the importer
 * (items with tags first, then events). Refuses to write into domains that already hold events
 * unless `force`, which replaces their events and catalogue.
 *
 * @example
 * const summary = await seedSynthetic(gdb, { users: 2000, seed: 42 });
 * summary.domains[1].events; // target events
 */
export async function seedSynthetic(gdb: GraftDatabase, options: SeedOptions = {}): Promise<SeedSummary> {
  const started = performance.now();
  const sourceName = options.sourceName ?? 'source';
  const targetName = options.targetName ?? 'target';
  if (sourceName === targetName) {
    throw new GraftError('BAD_INPUT', `source and target domain are both "${sourceName}"; give them different names (e.g. --target-domain target)`);
  }
  for (const name of [sourceName, targetName]) await checkEmpty(gdb, name, options.force === true);

  const world = generateCrossDomain({ ...options, sourceName, targetName });
  for (const domain of [world.source, world.target]) await writeDomain(gdb, domain, options);

  const usersWith = (d: SyntheticDomain) => new Set(d.log.users).size;
  return {
    users: world.truth.userIds.length,
    coldStartUsers: world.truth.coldStartUsers.length,
    domains: [
      { name: sourceName, role: 'source', items: world.source.items.length, events: world.source.eventCount, usersWithEvents: usersWith(world.source) },
      { name: targetName, role: 'target', items: world.target.items.length, events: world.target.eventCount, usersWithEvents: usersWith(world.target) },
    ],
    elapsedMs: performance.now() - started,
    world,
  };
}

async function checkEmpty(gdb: GraftDatabase, name: string, force: boolean): Promise<void> {
  const domain = await gdb.db.selectFrom('domains').select('id').where('name', '=', name).executeTakeFirst();
  if (!domain) return;
  if (force) {
    await gdb.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('events').where('domain_id', '=', domain.id).execute();
      await trx.deleteFrom('imports').where('domain_id', '=', domain.id).execute();
      await trx.deleteFrom('items').where('domain_id', '=', domain.id).execute();
    });
    return;
  }
  const row = await gdb.db
    .selectFrom('events')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('domain_id', '=', domain.id)
    .executeTakeFirstOrThrow();
  const count = Number(row.n);
  if (count > 0) {
    throw new GraftError(
      'CONFLICT',
      `domain "${name}" already holds ${count.toLocaleString('en-US')} events; seed other domains (--source-domain / --target-domain NAME), or pass --force to replace its events and items`,
    );
  }
}

async function writeDomain(gdb: GraftDatabase, domain: SyntheticDomain, options: SeedOptions): Promise<void> {
  const itemBatches = function* (size: number) {
    for (let from = 0; from < domain.items.length; from += size) yield domain.items.slice(from, from + size);
  };
  const batchSize = options.batchSize ?? 10_000;
  await ingestItems(gdb, domain.name, itemBatches(batchSize), {
    batchSize: options.batchSize,
    onProgress: (p) => options.onProgress?.({ domain: domain.name, phase: 'items', rows: p.rows, total: domain.items.length }),
  });
  await ingestEvents(gdb, domain.name, domain.eventBatches(batchSize), {
    batchSize: options.batchSize,
    onProgress: (p) => options.onProgress?.({ domain: domain.name, phase: 'events', rows: p.rows, total: domain.eventCount }),
  });
}
