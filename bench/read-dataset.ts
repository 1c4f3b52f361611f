/**
 * Dataset read throughput: `readDataset` over ~1M events of the synthetic source domain
 * (`generateCrossDomain`, written through `ingestEvents`), on Postgres and on PGlite.
 *
 *   npm run build && node dist/bench/read-dataset.js [--scale 18] [--page-size 100000] [--runs 3] [--skip-pglite] [--skip-postgres]
 *
 * Needs the local Postgres (POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres);
 * creates and drops its own database. Prints a markdown table on stdout.
 */
import pg from 'pg';
import { connect, type GraftDatabase } from '../src/db/connect.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { readDataset } from '../src/dataset/read-dataset.js';
import { ingestEvents, ingestItems } from '../src/logs/index.js';
import { generateCrossDomain } from '../seeds/synthetic-domains.js';

const ADMIN_URL = process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

function arg(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(process.argv[at + 1]);
}

const SCALE = arg('scale', 18);
const PAGE_SIZE = arg('page-size', 100_000);
const RUNS = arg('runs', 3);

async function bench(kind: 'postgres' | 'pglite'): Promise<string> {
  const world = generateCrossDomain({ scale: SCALE, seed: 1 });
  const domain = world.source;
  let gdb: GraftDatabase;
  let drop = async () => {};
  if (kind === 'pglite') {
    gdb = await connect({ dataDir: 'memory://', databaseUrl: '' });
  } else {
    const name = `graft_bench_read_${process.pid}`;
    const admin = new pg.Client({ connectionString: ADMIN_URL });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    const url = new URL(ADMIN_URL);
    url.pathname = `/${name}`;
    gdb = await connect({ databaseUrl: url.toString(), poolSize: 2 });
    drop = async () => {
      const c = new pg.Client({ connectionString: ADMIN_URL });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    };
  }
  try {
    await migrateToLatest(gdb.db);
    const t0 = performance.now();
    await ingestItems(gdb, domain.name, [domain.items]);
    await ingestEvents(gdb, domain.name, domain.eventBatches(10_000));
    const ingestS = (performance.now() - t0) / 1000;
    if (gdb.pool) await gdb.pool.query('vacuum analyze events');
    process.stderr.write(`${kind}: ingested ${domain.eventCount} events in ${ingestS.toFixed(1)} s\n`);
    const times: number[] = [];
    let heapMb = 0;
    for (let run = 0; run < RUNS; run++) {
      const before = process.memoryUsage().heapUsed;
      const t = performance.now();
      const ds = await readDataset(gdb, domain.name, { pageSize: PAGE_SIZE });
      times.push((performance.now() - t) / 1000);
      heapMb = Math.max(heapMb, (process.memoryUsage().heapUsed - before) / 2 ** 20);
      if (ds.interactions.users.length !== domain.eventCount) throw new Error(`read ${ds.interactions.users.length} of ${domain.eventCount} events`);
      process.stderr.write(`${kind}: run ${run + 1}: ${times[run].toFixed(2)} s\n`);
    }
    const best = Math.min(...times);
    const median = [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)];
    return `| ${kind} | ${domain.eventCount.toLocaleString('en-US')} | ${world.truth.userIds.length.toLocaleString('en-US')} | ${domain.items.length.toLocaleString('en-US')} | ${PAGE_SIZE} | ${median.toFixed(2)} s | ${Math.round(domain.eventCount / median).toLocaleString('en-US')} | ${Math.round(domain.eventCount / best).toLocaleString('en-US')} |`;
  } finally {
    await gdb.close();
    await drop();
  }
}

const rows: string[] = [];
if (!process.argv.includes('--skip-postgres')) rows.push(await bench('postgres'));
if (!process.argv.includes('--skip-pglite')) rows.push(await bench('pglite'));
process.stdout.write(
  [
    `readDataset, synthetic source domain (scale ${SCALE}), ${RUNS} runs, Node ${process.version}`,
    '',
    '| storage | events | users | items | page size | median time | events/s (median) | events/s (best) |',
    '|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n'),
);
