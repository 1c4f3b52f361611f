/**
 * Does one client's heaviest allowed request starve /healthz or other clients? A catalogue of
 * N items (default 20k) with an active model, `graft serve` in its own process on Postgres
 * (serving cache and precomputation off, so every request ranks), then two phases of S seconds:
 *   1. baseline: C "normal" APP connections, each asking `recommendations(first: 20)` for
 *      rotating users back to back, and a /healthz probe every 100 ms;
 *   2. the same, plus H abusive APP connections sending, back to back, the heaviest request the
 *      APP limits allow (50 aliases of recommendations for different users, the page size
 *      chosen so the estimated cost is just under the limit), and the same with one more alias
 *      (refused: measured too, as refusals cost something).
 * Reports latency percentiles of each kind of request in each phase.
 *
 *   npm run build && node dist/bench/heavy-client.js [--items 20000] [--users 2000] [--seconds 20]
 *     [--normal 4] [--heavy 2] [--database-url postgres://postgres@127.0.0.1:5432/postgres]
 *
 * Prints a markdown table on stdout, progress on stderr.
 */
import { spawn } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { getOperationAST, parse } from 'graphql';
import pg from 'pg';
import { createApiKey } from '../src/auth/index.js';
import { connect } from '../src/db/connect.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { createRng } from '../src/dataset/random.js';
import { measureOperation } from '../src/graphql/limits/operation-cost.js';
import { DEFAULT_OPERATION_LIMITS } from '../src/graphql/limits/operation-limits.js';
import { buildGraftSchema } from '../src/graphql/schema.js';
import { ingestEvents, ingestItems } from '../src/logs/index.js';
import { activateModel, createModel, markModelReady, saveEmbeddings, saveIdArtifact } from '../src/registry/index.js';
import { clusteredUnitVectors } from '../src/retrieval/synthetic-vectors.js';
import { arg } from './bench-args.js';

const ITEMS = Number(arg('items', '20000'));
const USERS = Number(arg('users', '2000'));
const SECONDS = Number(arg('seconds', '20'));
const NORMAL = Number(arg('normal', '4'));
const HEAVY = Number(arg('heavy', '2'));
const ADMIN_URL = arg('database-url', process.env.GRAFT_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
const DIM = 64;
const PORT = 4100 + Math.floor(Math.random() * 500);
const log = (m: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${m}\n`);

async function setUp(url: string): Promise<{ key: string; abuser: string }> {
  const gdb = await connect({ databaseUrl: url });
  await migrateToLatest(gdb.db);
  const rng = createRng(7);
  await ingestItems(gdb, 'shop', [Array.from({ length: ITEMS }, (_, i) => ({ item: `i${i}`, title: `item ${i}`, tags: [`topic-${i % 50}`] }))]);
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  const events = [];
  for (let u = 0; u < USERS; u++) {
    for (let e = 0; e < 20; e++) events.push({ user: `u${u}`, item: `i${Math.floor(rng.next() ** 2 * ITEMS)}`, weight: 1, time: new Date(t0 + (u * 20 + e) * 1000), kind: 'view' as const });
  }
  await ingestEvents(gdb, 'shop', [events]);
  const itemIds = Int32Array.from((await gdb.db.selectFrom('items').select('id').orderBy('id').execute()).map((r) => r.id));
  const userIds = Int32Array.from((await gdb.db.selectFrom('users').select('id').orderBy('id').execute()).map((r) => r.id));
  const model = await createModel(gdb.db, { domain: 'shop', kind: 'PRETRAIN', config: { dim: DIM, note: 'bench/heavy-client synthetic embeddings' } });
  await gdb.db.transaction().execute(async (trx) => {
    await saveIdArtifact(trx, model.id, 'vocab:users', userIds);
    await saveIdArtifact(trx, model.id, 'vocab:items', itemIds);
    await saveEmbeddings(trx, model.id, 'USER', userIds, clusteredUnitVectors(userIds.length, DIM, { seed: 2, centresSeed: 99 }), DIM);
    await saveEmbeddings(trx, model.id, 'ITEM', itemIds, clusteredUnitVectors(itemIds.length, DIM, { seed: 1, centresSeed: 99 }), DIM);
    await markModelReady(trx, model.id, { metrics: {} });
  });
  await activateModel(gdb.db, model.id);
  const { key } = await createApiKey(gdb.db, { name: 'bench', role: 'APP' });
  const { key: abuser } = await createApiKey(gdb.db, { name: 'abuser', role: 'APP' });
  await gdb.close();
  return { key, abuser };
}

const PAGE = (alias: string, user: number, first: number) =>
  `${alias}: recommendations(userId: "u${user}", domain: "shop", first: ${first}) { edges { node { score item { id title tags } reason { becauseOf { id } } } } }`;

/** The heaviest document of `aliases` recommendation pages the APP limits allow: the largest page size under the cost limit. */
async function heaviest(aliases: number): Promise<{ build: (offset: number) => string; first: number; cost: number }> {
  const schema = await buildGraftSchema();
  const build = (first: number) => (offset: number) => `{ ${Array.from({ length: aliases }, (_, i) => PAGE(`a${i}`, (offset + i) % USERS, first)).join(' ')} }`;
  const costOf = (first: number) => {
    const document = parse(build(first)(0));
    return measureOperation(schema, document, getOperationAST(document)!, {}).cost;
  };
  let first = 1;
  while (first < 500 && costOf(first + 1) <= DEFAULT_OPERATION_LIMITS.APP.maxCost) first++;
  return { build: build(first), first, cost: costOf(first) };
}

interface Sample {
  ms: number;
  status: number;
}

function summary(samples: Sample[], seconds: number): string {
  if (samples.length === 0) return '| 0 | - | - | - | - | - |';
  const ms = samples.map((s) => s.ms).sort((a, b) => a - b);
  const q = (p: number) => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))]!.toFixed(1);
  const statuses = [...new Set(samples.map((s) => s.status))].sort().join(', ');
  return `| ${samples.length} (${(samples.length / seconds).toFixed(1)}/s) | ${q(0.5)} | ${q(0.99)} | ${ms.at(-1)!.toFixed(1)} | ${statuses} |`;
}

async function main(): Promise<void> {
  const name = `graft_bench_heavy_${process.pid}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const main = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
  try {
    log(`set-up: ${ITEMS} items, ${USERS} users x 20 events, an active model`);
    const { key, abuser } = await setUp(url.toString());
    const heavy = await heaviest(DEFAULT_OPERATION_LIMITS.APP.maxAliases);
    const refusedDoc = `{ ${Array.from({ length: DEFAULT_OPERATION_LIMITS.APP.maxAliases + 1 }, (_, i) => PAGE(`a${i}`, i, heavy.first)).join(' ')} }`;
    log(`heaviest allowed: ${DEFAULT_OPERATION_LIMITS.APP.maxAliases} aliases x recommendations(first: ${heavy.first}), estimated cost ${heavy.cost}`);
    const server = spawn(process.execPath, [main, 'serve', '--port', String(PORT)], {
      env: { ...process.env, DATABASE_URL: url.toString(), LOG_LEVEL: 'error', GRAFT_CACHE_TTL_MS: '0', GRAFT_PRECOMPUTE_USERS: '0' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const base = `http://127.0.0.1:${PORT}`;
    try {
      for (;;) {
        if (server.exitCode !== null) throw new Error(`server exited with code ${server.exitCode}`);
        const ok = await fetch(`${base}/healthz`).then((r) => r.status === 200).catch(() => false);
        if (ok) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      const post = async (query: string, as = key): Promise<Sample> => {
        const started = performance.now();
        const res = await fetch(`${base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${as}` }, body: JSON.stringify({ query }) });
        await res.arrayBuffer();
        return { ms: performance.now() - started, status: res.status };
      };
      // Warm-up: the model's first load, compiled operations.
      for (let i = 0; i < 20; i++) await post(PAGE('r', i, 20).replace(/^r: /, '{ ') + ' }');
      await post(heavy.build(0), abuser);

      const phase = async (label: string, withHeavy: boolean) => {
        const until = performance.now() + SECONDS * 1000;
        const normal: Sample[] = [];
        const health: Sample[] = [];
        const heavies: Sample[] = [];
        const refusals: Sample[] = [];
        let user = 0;
        const normalLoop = async () => {
          while (performance.now() < until) normal.push(await post(`{ ${PAGE('r', user++ % USERS, 20)} }`));
        };
        const healthLoop = async () => {
          while (performance.now() < until) {
            const started = performance.now();
            const res = await fetch(`${base}/healthz`);
            await res.arrayBuffer();
            health.push({ ms: performance.now() - started, status: res.status });
            await new Promise((r) => setTimeout(r, 100));
          }
        };
        let offset = 0;
        const heavyLoop = async (i: number) => {
          while (performance.now() < until) {
            if (i === 0 && heavies.length % 5 === 4) refusals.push(await post(refusedDoc, abuser));
            else heavies.push(await post(heavy.build((offset += 50)), abuser));
          }
        };
        log(`${label}: ${SECONDS} s`);
        await Promise.all([...Array.from({ length: NORMAL }, normalLoop), healthLoop(), ...(withHeavy ? Array.from({ length: HEAVY }, (_, i) => heavyLoop(i)) : [])]);
        return [
          `| ${label} | normal: recommendations(first: 20) | ${summary(normal, SECONDS).slice(2)}`,
          `| ${label} | /healthz every 100 ms | ${summary(health, SECONDS).slice(2)}`,
          ...(withHeavy
            ? [
                `| ${label} | heavy: ${DEFAULT_OPERATION_LIMITS.APP.maxAliases} x recommendations(first: ${heavy.first}) | ${summary(heavies, SECONDS).slice(2)}`,
                `| ${label} | over the limit (${DEFAULT_OPERATION_LIMITS.APP.maxAliases + 1} aliases): refused | ${summary(refusals, SECONDS).slice(2)}`,
              ]
            : []),
        ];
      };
      const rows = [...(await phase('baseline', false)), ...(await phase(`+ ${HEAVY} abusive connections`, true))];
      const cpu = cpus();
      process.stdout.write(
        [
          `heavy-client: ${ITEMS} items, ${USERS} users, cache and precomputation off, ${NORMAL} normal connections, ${HEAVY} abusive; ${SECONDS} s per phase`,
          `machine: ${cpu.length} x ${cpu[0]?.model ?? '?'}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} at the end`,
          '',
          '| phase | requests | count (rate) | p50 ms | p99 ms | max ms | HTTP status |',
          '|---|---|---|---|---|---|---|',
          ...rows,
          '',
        ].join('\n'),
      );
    } finally {
      server.kill('SIGTERM');
      await new Promise((r) => server.once('exit', r));
    }
  } finally {
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
  }
}

await main();
