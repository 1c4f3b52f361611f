/**
 * Ingest throughput: `importEventsFile` against Postgres' own `COPY ... FROM` (through
 * psql `\copy`, the honest ceiling) for the same 1M-event TSV, on Postgres and on PGlite,
 * and `readDataset` of the imported domain on both. A second reference row times the
 * server-side floor: set-based SQL from the COPY staging table into Graft's schema.
 *
 *   npm run build && node dist/bench/ingest.js [--events 1000000] [--users 100000] [--items 50000] [--skip-pglite]
 *
 * Needs `psql` and the local Postgres (POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres);
 * creates and drops its own databases. Prints a markdown table on stdout.
 */
import { execFileSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { connect, type GraftDatabase } from '../src/db/connect.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { createRng } from '../src/dataset/random.js';
import { readDataset } from '../src/dataset/read-dataset.js';
import type { RebuildIndexes } from '../src/logs/event-indexes.js';
import { importEventsFile } from '../src/logs/index.js';

const ADMIN_URL = process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

function arg(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(process.argv[at + 1]);
}

const EVENTS = arg('events', 1_000_000);
const USERS = arg('users', 100_000);
const ITEMS = arg('items', 50_000);
const SKIP_PGLITE = process.argv.includes('--skip-pglite');

// bench/.data next to the sources (gitignored), whether run from bench/ or dist/bench/.
const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = here.includes(`${join('dist', 'bench')}`) ? resolve(here, '..', '..') : resolve(here, '..');
const dataDir = join(repoRoot, 'bench', '.data');

/**
 * `user \t item \t weight \t time` lines, deterministic for the sizes. Popularity is
 * Zipf-ish (index = floor(n * u^3): the top 1% of items get ~20% of events), users a
 * little skewed too; times are increasing ISO 8601 seconds.
 */
async function generate(path: string): Promise<void> {
  if (existsSync(path)) return;
  mkdirSync(dirname(path), { recursive: true });
  const rng = createRng(20261127);
  const partial = `${path}.partial`;
  const out = createWriteStream(partial);
  const start = Date.UTC(2024, 0, 1);
  let chunk = '';
  for (let i = 0; i < EVENTS; i++) {
    const user = Math.floor(USERS * rng.next() ** 1.5);
    const item = Math.floor(ITEMS * rng.next() ** 3);
    const weight = rng.next() < 0.1 ? 2 : 1;
    const time = new Date(start + i * 1000).toISOString().replace('.000Z', 'Z');
    chunk += `u${user}\ti${item}\t${weight}\t${time}\n`;
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
  renameSync(partial, path);
}

async function freshPostgres(tag: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `graft_bench_${tag}_${process.pid}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`drop database if exists ${name}`);
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: ADMIN_URL });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

interface Row {
  what: string;
  seconds: number;
  eventsPerSecond: number;
  note?: string;
}

/**
 * (a) The ceiling: psql `\copy` of the raw file into an unindexed staging table of text ids.
 * Then, in the same database, the server-side floor of any importer into Graft's schema:
 * set-based SQL from that staging table (create users and items, insert events with the
 * indexes dropped, rebuild them), with no client work at all.
 */
async function copyCeiling(file: string): Promise<Row[]> {
  const { url, drop } = await freshPostgres('copy');
  try {
    execFileSync('psql', [url, '-qc', 'create table events_staging (user_ext text, item_ext text, weight real, occurred_at timestamptz)']);
    const t0 = performance.now();
    execFileSync('psql', [url, '-qc', `\\copy events_staging from '${file.replace(/'/g, "''")}'`]);
    const seconds = (performance.now() - t0) / 1000;
    const n = Number(execFileSync('psql', [url, '-tAc', 'select count(*) from events_staging']).toString().trim());
    if (n !== EVENTS) throw new Error(`COPY loaded ${n} rows, expected ${EVENTS}`);
    const copy: Row = { what: 'Postgres `\\copy events_staging` (ceiling)', seconds, eventsPerSecond: EVENTS / seconds, note: 'no id resolution, no indexes' };

    const gdb = await connect({ databaseUrl: url });
    try {
      await migrateToLatest(gdb.db);
      const client = await gdb.pool!.connect();
      try {
        const t1 = performance.now();
        await client.query('begin');
        await client.query(`insert into domains (name) values ('bench')`);
        await client.query('insert into users (external_id) select distinct user_ext from events_staging');
        await client.query('insert into items (domain_id, external_id) select distinct 1, item_ext from events_staging');
        const indexes = await client.query<{ name: string; def: string }>(
          `select indexname as name, indexdef as def from pg_indexes where tablename = 'events'`,
        );
        for (const index of indexes.rows) await client.query(`drop index ${index.name}`);
        await client.query(`
          insert into events (user_id, item_id, domain_id, kind, weight, occurred_at, import_id)
          select u.id, i.id, 1, 'view', s.weight, s.occurred_at, null
          from events_staging s join users u on u.external_id = s.user_ext join items i on i.domain_id = 1 and i.external_id = s.item_ext`);
        for (const index of indexes.rows) await client.query(index.def);
        await client.query('commit');
        const floor = (performance.now() - t1) / 1000;
        return [
          copy,
          {
            what: 'server-side SQL from the staging table (floor)',
            seconds: floor,
            eventsPerSecond: EVENTS / floor,
            note: 'after the COPY: create users/items, insert events with indexes dropped, rebuild them; no client work',
          },
        ];
      } finally {
        client.release();
      }
    } finally {
      await gdb.close();
    }
  } finally {
    await drop();
  }
}

/** importEventsFile into a migrated, empty database; checks the count so a silent skip cannot pass as fast. */
async function importInto(gdb: GraftDatabase, file: string, what: string, rebuildIndexes: RebuildIndexes = 'auto'): Promise<Row> {
  await migrateToLatest(gdb.db);
  const t0 = performance.now();
  const summary = await importEventsFile(gdb, file, { domain: 'bench', header: false, rebuildIndexes });
  const seconds = (performance.now() - t0) / 1000;
  const { count } = await gdb.db.selectFrom('events').select((eb) => eb.fn.countAll<number>().as('count')).executeTakeFirstOrThrow();
  if (Number(count) !== EVENTS || summary.rows !== EVENTS) throw new Error(`${what}: imported ${count} events, expected ${EVENTS}`);
  return {
    what,
    seconds,
    eventsPerSecond: EVENTS / seconds,
    note: `${summary.usersCreated.toLocaleString('en-US')} users, ${summary.itemsCreated.toLocaleString('en-US')} items created; sha256 pass included; indexes ${rebuildIndexes === 'never' ? 'maintained row by row' : 'dropped and rebuilt (auto: empty table)'}`,
  };
}

/** Reading the imported domain back into a Dataset (typed arrays, vocabularies, histories). */
async function readBack(gdb: GraftDatabase, storage: string): Promise<Row> {
  const t0 = performance.now();
  const dataset = await readDataset(gdb, 'bench');
  const seconds = (performance.now() - t0) / 1000;
  const n = dataset.interactions.users.length;
  if (n !== EVENTS) throw new Error(`readDataset on ${storage} returned ${n} interactions, expected ${EVENTS}`);
  return { what: `\`readDataset\` on ${storage}`, seconds, eventsPerSecond: n / seconds, note: `${dataset.users.size.toLocaleString('en-US')} users, ${dataset.items.size.toLocaleString('en-US')} items` };
}

async function main(): Promise<void> {
  const file = join(dataDir, `events-${EVENTS}-${USERS}-${ITEMS}.tsv`);
  await generate(file);
  const mb = statSync(file).size / 2 ** 20;
  process.stderr.write(`file ${file}: ${EVENTS.toLocaleString('en-US')} events, ${mb.toFixed(1)} MiB\n`);

  const rows: Row[] = [];
  for (const row of await copyCeiling(file)) {
    rows.push(row);
    process.stderr.write(`${row.what}: ${row.seconds.toFixed(2)} s\n`);
  }

  const pgDb = await freshPostgres('import');
  const pgConn = await connect({ databaseUrl: pgDb.url });
  try {
    rows.push(await importInto(pgConn, file, '`importEventsFile` on Postgres'));
    process.stderr.write(`${rows.at(-1)!.what}: ${rows.at(-1)!.seconds.toFixed(2)} s\n`);
    rows.push(await readBack(pgConn, 'Postgres'));
    process.stderr.write(`${rows.at(-1)!.what}: ${rows.at(-1)!.seconds.toFixed(2)} s\n`);
  } finally {
    await pgConn.close();
    await pgDb.drop();
  }
  // The incremental path (a table already much larger than the import keeps its indexes).
  const pgDb2 = await freshPostgres('import_idx');
  const pgConn2 = await connect({ databaseUrl: pgDb2.url });
  try {
    rows.push(await importInto(pgConn2, file, '`importEventsFile` on Postgres, `rebuildIndexes: never`', 'never'));
    process.stderr.write(`${rows.at(-1)!.what}: ${rows.at(-1)!.seconds.toFixed(2)} s\n`);
  } finally {
    await pgConn2.close();
    await pgDb2.drop();
  }

  if (!SKIP_PGLITE) {
    const dir = mkdtempSync(join(tmpdir(), 'graft-bench-pglite-'));
    const lite = await connect({ databaseUrl: '', dataDir: dir });
    try {
      rows.push(await importInto(lite, file, '`importEventsFile` on PGlite (data dir)'));
      process.stderr.write(`${rows.at(-1)!.what}: ${rows.at(-1)!.seconds.toFixed(2)} s\n`);
      rows.push(await readBack(lite, 'PGlite'));
      process.stderr.write(`${rows.at(-1)!.what}: ${rows.at(-1)!.seconds.toFixed(2)} s\n`);
    } finally {
      await lite.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }

  const ceiling = rows[0]!.eventsPerSecond;
  const lines = [
    `Ingest of ${EVENTS.toLocaleString('en-US')} events (${USERS.toLocaleString('en-US')} users, ${ITEMS.toLocaleString('en-US')} items, ${mb.toFixed(1)} MiB TSV)`,
    '',
    '| run | seconds | events/s | vs COPY | note |',
    '|---|---:|---:|---:|---|',
    ...rows.map(
      (r) =>
        `| ${r.what} | ${r.seconds.toFixed(2)} | ${Math.round(r.eventsPerSecond).toLocaleString('en-US')} | ${((100 * r.eventsPerSecond) / ceiling).toFixed(0)}% | ${r.note ?? ''} |`,
    ),
    '',
    '`vs COPY` compares rates; for `readDataset` rows it is the read rate against the COPY load rate.',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
