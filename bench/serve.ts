/**
 * Serving throughput and latency over HTTP: a catalogue of N items (default 100k) with an
 * active model (item and user embeddings, dim 64, clustered unit vectors, seeded), 10k users
 * with 20 events each (so exclude-seen has work to do), `graft serve` in its own process on
 * Postgres, and autocannon at 32 connections from this process. Measured in the same run:
 *   1. `{ __typename }`: the framework's ceiling (HTTP + Apollo + auth, no resolver work);
 *   2. `recommendations(first: 20)` for rotating users (exclude-seen on, items + reasons);
 *   3. with --recall: recall@20 of what the server returns against an exact top-20 computed
 *      here from the same embeddings (excludeSeen: false), i.e. the HNSW index's recall
 *      through the whole stack when N is above the server's HNSW threshold (50k).
 *
 *   npm run build && node dist/bench/serve.js [--items 100000] [--users 10000] [--seconds 15]
 *     [--connections 32] [--recall 200] [--database-url postgres://postgres@127.0.0.1:5432/postgres]
 *     [--workers 1] [--cache off,on,precompute] [--also-connections 1]
 *     [--server-node-options "--cpu-prof --cpu-prof-dir=/tmp/prof"]
 *
 * Prints a markdown table on stdout, progress on stderr.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { createApiKey } from '../src/auth/index.js';
import { connect } from '../src/db/connect.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { createRng } from '../src/dataset/random.js';
import { ingestEvents, ingestItems } from '../src/logs/index.js';
import { activateModel, createModel, markModelReady, saveEmbeddings, saveIdArtifact } from '../src/registry/index.js';
import { exactTopK } from '../src/retrieval/index.js';
import { clusteredUnitVectors } from '../src/retrieval/synthetic-vectors.js';
import { arg, freshBenchDatabase } from './bench-args.js';

const ITEMS = Number(arg('items', '100000'));
const USERS = Number(arg('users', '10000'));
const SECONDS = Number(arg('seconds', '15'));
const CONNECTIONS = Number(arg('connections', '32'));
const RECALL_USERS = Number(arg('recall', '200'));
/** Extra node flags for the server process, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile it. */
const SERVER_NODE_OPTIONS = arg('server-node-options', '');
/** `graft serve --workers N`: server processes sharing the port. */
const WORKERS = Number(arg('workers', '1'));
/**
 * Serving settings to measure, each on its own server: 'off' (no cache, nothing precomputed),
 * 'on' (cache TTL 60 s, nothing precomputed), 'precompute' (cache on and every user
 * precomputed when the model loads: `graft serve`'s default for up to 50,000 users).
 */
const CACHE_RUNS = arg('cache', 'off,on,precompute').split(',');
/** Also measure recommendations (cache off) at this many connections: latency without queueing. */
const ALSO_CONNECTIONS = Number(arg('also-connections', '0'));
const ADMIN_URL = arg('database-url', process.env.GRAFT_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
const DIM = 64;
const EVENTS_PER_USER = 20;
const PORT = 4100 + Math.floor(Math.random() * 500);
const log = (m: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${m}\n`);

async function setUp(url: string) {
  const gdb = await connect({ databaseUrl: url });
  await migrateToLatest(gdb.db);
  const rng = createRng(7);
  log(`catalogue: ${ITEMS.toLocaleString('en-US')} items`);
  const tagsOf = (i: number) => [`topic-${i % 50}`, `brand-${i % 997}`];
  await ingestItems(gdb, 'shop', (function* () {
    for (let start = 0; start < ITEMS; start += 10_000) {
      const batch = [];
      for (let i = start; i < Math.min(ITEMS, start + 10_000); i++) batch.push({ item: `i${i}`, title: `item ${i}`, tags: tagsOf(i) });
      yield batch;
    }
  })());
  log(`log: ${USERS.toLocaleString('en-US')} users x ${EVENTS_PER_USER} events`);
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  await ingestEvents(gdb, 'shop', (function* () {
    for (let start = 0; start < USERS; start += 1000) {
      const batch = [];
      for (let u = start; u < Math.min(USERS, start + 1000); u++) {
        for (let e = 0; e < EVENTS_PER_USER; e++) {
          // Zipf-ish popularity: squares of uniforms concentrate on low item numbers.
          const item = Math.floor(rng.next() ** 2 * ITEMS);
          batch.push({ user: `u${u}`, item: `i${item}`, weight: 1, time: new Date(t0 + (u * EVENTS_PER_USER + e) * 1000), kind: 'view' as const });
        }
      }
      yield batch;
    }
  })());
  const itemRows = await gdb.db.selectFrom('items').select(['id', 'external_id']).orderBy('id').execute();
  const userRows = await gdb.db.selectFrom('users').select(['id', 'external_id']).orderBy('id').execute();
  const itemIds = Int32Array.from(itemRows.map((r) => r.id));
  const userIds = Int32Array.from(userRows.map((r) => r.id));
  const itemVectors = clusteredUnitVectors(itemIds.length, DIM, { seed: 1, centresSeed: 99 });
  const userVectors = clusteredUnitVectors(userIds.length, DIM, { seed: 2, centresSeed: 99 });
  log('model: registering embeddings and activating');
  const model = await createModel(gdb.db, { domain: 'shop', kind: 'PRETRAIN', config: { dim: DIM, note: 'bench/serve synthetic embeddings' } });
  await gdb.db.transaction().execute(async (trx) => {
    await saveIdArtifact(trx, model.id, 'vocab:users', userIds);
    await saveIdArtifact(trx, model.id, 'vocab:items', itemIds);
    await saveEmbeddings(trx, model.id, 'USER', userIds, userVectors, DIM);
    await saveEmbeddings(trx, model.id, 'ITEM', itemIds, itemVectors, DIM);
    await markModelReady(trx, model.id, { metrics: {} });
  });
  await activateModel(gdb.db, model.id);
  const { key } = await createApiKey(gdb.db, { name: 'bench', role: 'APP' });
  await gdb.close();
  return { key, itemVectors, userVectors, itemExternal: itemRows.map((r) => r.external_id), userRow: new Map(userRows.map((r, i) => [r.external_id, i])) };
}

async function waitHealthy(base: string, server: ChildProcess): Promise<number> {
  const started = performance.now();
  for (;;) {
    if (server.exitCode !== null) throw new Error(`server exited with code ${server.exitCode}`);
    try {
      const res = await fetch(`${base}/healthz`);
      if (res.status === 200) return performance.now() - started;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** /metrics, retried: a poll that meets a kept-alive connection the server is closing fails once, harmlessly. */
async function readMetrics(base: string): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await (await fetch(`${base}/metrics`)).text();
    } catch (error) {
      if (attempt === 5) throw error;
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }
}

/** Above the server's HNSW threshold the exact index serves while HNSW builds in the background: wait for HNSW. */
async function waitForIndex(base: string, kind: 'exact' | 'hnsw'): Promise<number> {
  const started = performance.now();
  for (;;) {
    const metrics = await readMetrics(base);
    // Under --workers N every worker must be on it (the gauges of all workers are listed).
    const other = kind === 'hnsw' ? 'exact' : 'hnsw';
    const has = (k: string) => new RegExp(`graft_index_items\\{domain="shop",kind="${k}"\\}`).test(metrics);
    if (has(kind) && !has(other)) return performance.now() - started;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Waits until every worker holds `users` precomputed users of the domain. */
async function waitForPrecomputed(base: string, users: number): Promise<number> {
  const started = performance.now();
  for (;;) {
    const metrics = await readMetrics(base);
    const held = Number(/graft_serving_precomputed_users\{domain="shop"\} (\d+)/.exec(metrics)?.[1] ?? 0);
    if (held >= users) return performance.now() - started;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** CPU seconds (user + system) used so far by the server process and its children (cluster workers). */
function serverCpuSeconds(pid: number): number {
  const ticks = (p: number) => {
    try {
      const fields = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14, 15 of stat)
    } catch {
      return 0;
    }
  };
  let total = ticks(pid);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const ppid = Number(readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
      if (ppid === pid) total += ticks(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return total / 100; // USER_HZ
}

/** Runs a load and measures the server's CPU time per completed request (ms): robust to other load on the machine. */
async function loadWithCpu(pid: number, run: () => Promise<autocannon.Result>): Promise<{ result: autocannon.Result; cpuMsPerRequest: number }> {
  const before = serverCpuSeconds(pid);
  const result = await run();
  const cpu = serverCpuSeconds(pid) - before;
  return { result, cpuMsPerRequest: (1000 * cpu) / Math.max(1, result.requests.total) };
}

function load(url: string, key: string, body: (i: number) => string, seconds = SECONDS, connections = CONNECTIONS): Promise<autocannon.Result> {
  let i = 0;
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        connections,
        duration: seconds,
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        requests: [{ setupRequest: (req) => ({ ...req, body: body(i++) }) }],
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
    void instance;
  });
}

async function main() {
  const url = await freshBenchDatabase(ADMIN_URL, `graft_bench_serve_${ITEMS}`);
  const { key, itemVectors, userVectors, itemExternal, userRow } = await setUp(url);

  const main = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
  const recs = (i: number) =>
    JSON.stringify({
      query: `query($u: ID!) { recommendations(userId: $u, domain: "shop", first: 20) { modelVersion edges { node { rank score item { id title } reason { tier } } } } }`,
      variables: { u: `u${(i * 7919) % USERS}` },
    });

  /** One server process with the given cache TTL and precomputed users: both queries in the same run, plus the serving cache's counts. */
  async function measure(cacheTtlMs: number, precomputeUsers: number, withRecall: boolean) {
    const server = spawn(process.execPath, [...SERVER_NODE_OPTIONS.split(' ').filter(Boolean), main, 'serve', '--port', String(PORT), '--workers', String(WORKERS)], {
      env: { ...process.env, DATABASE_URL: url, LOG_LEVEL: 'warn', GRAFT_METRICS: 'open', GRAFT_CACHE_TTL_MS: String(cacheTtlMs), GRAFT_PRECOMPUTE_USERS: String(precomputeUsers) },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    try {
      const base = `http://127.0.0.1:${PORT}`;
      const readyMs = await waitHealthy(base, server);
      log(`server (cache TTL ${cacheTtlMs} ms) ready (model loaded) after ${(readyMs / 1000).toFixed(1)} s`);
      const indexKind = ITEMS > 50_000 ? 'hnsw' : 'exact';
      if (indexKind === 'hnsw') log(`HNSW index in service after another ${((await waitForIndex(base, 'hnsw')) / 1000).toFixed(1)} s`);
      if (precomputeUsers > 0) log(`${precomputeUsers.toLocaleString('en-US')} users precomputed after another ${((await waitForPrecomputed(base, precomputeUsers)) / 1000).toFixed(1)} s`);
      const gqlUrl = `${base}/graphql`;
      const check = (await (await fetch(gqlUrl, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: recs(1) })).json()) as any;
      if (check.errors || check.data.recommendations.edges.length !== 20) throw new Error(`recommendations failed: ${JSON.stringify(check).slice(0, 500)}`);
      log('warm-up 3 s');
      await load(gqlUrl, key, () => JSON.stringify({ query: '{ __typename }' }), 3).catch(() => undefined);
      log(`{ __typename }: ${SECONDS} s at ${CONNECTIONS} connections`);
      const trivial = await loadWithCpu(server.pid!, () => load(gqlUrl, key, () => JSON.stringify({ query: '{ __typename }' })));
      log(`recommendations(first: 20): ${SECONDS} s at ${CONNECTIONS} connections`);
      const before = await cacheCounts(base);
      const heavy = await loadWithCpu(server.pid!, () => load(gqlUrl, key, recs));
      const after = await cacheCounts(base);
      const lookups = { hit: after.hit - before.hit, user: after.user - before.user, miss: after.miss - before.miss };
      let few: autocannon.Result | undefined;
      if (ALSO_CONNECTIONS > 0 && cacheTtlMs === 0 && precomputeUsers === 0) {
        log(`recommendations(first: 20): ${SECONDS} s at ${ALSO_CONNECTIONS} connections`);
        few = await load(gqlUrl, key, (i) => recs(i + 5_000), SECONDS, ALSO_CONNECTIONS);
      }
      const recall = withRecall && RECALL_USERS > 0 ? await recallThroughServer(gqlUrl) : undefined;
      return { trivial, heavy, lookups, recall, few };
    } finally {
      server.kill('SIGTERM');
      await new Promise((resolve) => (server.exitCode !== null ? resolve(undefined) : server.once('exit', resolve)));
    }
  }

  async function recallThroughServer(gqlUrl: string): Promise<number> {
    log(`recall@20 through the server for ${RECALL_USERS} users (excludeSeen: false) against exact top-20`);
    const position = new Map(itemExternal.map((id, i) => [id, i]));
    let hit = 0;
    for (let q = 0; q < RECALL_USERS; q++) {
      const u = (q * 104729) % USERS;
      const res = (await (await fetch(gqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ query: `{ recommendations(userId: "u${u}", domain: "shop", first: 20, excludeSeen: false) { edges { node { item { id } } } } }` }),
      })).json()) as any;
      const got = new Set<number>(res.data.recommendations.edges.map((e: any) => position.get(e.node.item.id)));
      const row = userRow.get(`u${u}`)!;
      const exact = exactTopK(itemVectors, DIM, userVectors.subarray(row * DIM, (row + 1) * DIM), 20);
      for (const r of exact.ids) if (got.has(r)) hit++;
    }
    return hit / (RECALL_USERS * 20);
  }

  const runs: [string, Awaited<ReturnType<typeof measure>>][] = [];
  for (const run of CACHE_RUNS) {
    if (run === 'off') runs.push(['off', await measure(0, 0, runs.length === 0)]);
    else if (run === 'on') runs.push(['on (60 s TTL)', await measure(60_000, 0, runs.length === 0)]);
    else if (run === 'precompute') runs.push(['on, all users precomputed', await measure(60_000, USERS, runs.length === 0)]);
    else throw new Error(`--cache ${run}: use off, on, precompute or a list of them, e.g. off,precompute`);
  }
  const recall = runs[0]?.[1].recall;

  const fmt = (r: autocannon.Result, cpuMs = Number.NaN) => ({ rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.non2xx, cpu: Number.isNaN(cpuMs) ? '' : cpuMs.toFixed(3) });
  const rows: string[] = [];
  for (const [label, m] of runs) {
    const t = fmt(m.trivial.result, m.trivial.cpuMsPerRequest);
    const h = fmt(m.heavy.result, m.heavy.cpuMsPerRequest);
    const total = m.lookups.hit + m.lookups.user + m.lookups.miss;
    const share = (n: number) => (total ? `${((100 * n) / total).toFixed(0)}%` : '-');
    rows.push(`| ${label} | \`{ __typename }\` (ceiling) | ${t.rps.toFixed(0)} | ${t.p50} | ${t.p99} | ${t.cpu} | ${t.errors} | |`);
    rows.push(
      `| ${label} | \`recommendations(first: 20)\` | ${h.rps.toFixed(0)} | ${h.p50} | ${h.p99} | ${h.cpu} | ${h.errors} | ${((100 * h.rps) / t.rps).toFixed(1)}% of the ceiling (CPU: ${((100 * m.trivial.cpuMsPerRequest) / m.heavy.cpuMsPerRequest).toFixed(1)}%); cache: ${total ? `${share(m.lookups.hit)} hits, ${share(m.lookups.user)} user only, ${share(m.lookups.miss)} misses` : 'off'} |`,
    );
    if (m.few) {
      const f = fmt(m.few);
      rows.push(`| ${label} | \`recommendations(first: 20)\` at ${ALSO_CONNECTIONS} connection(s) | ${f.rps.toFixed(0)} | ${f.p50} | ${f.p99} | | ${f.errors} | latency without queueing |`);
    }
  }
  process.stdout.write(
    [
      `machine: ${cpus().length} x ${cpus()[0]?.model}, load ${loadavg()[0]!.toFixed(2)}; ${ITEMS.toLocaleString('en-US')} items, ${USERS.toLocaleString('en-US')} users, dim ${DIM}; ` +
        `${CONNECTIONS} connections, ${SECONDS} s each; server: \`graft serve --workers ${WORKERS}\` on Postgres, ${ITEMS > 50_000 ? 'HNSW' : 'exact'} index; users rotate (user = 7919 i mod ${USERS})`,
      '',
      '| serving | query | req/s | p50 ms | p99 ms | server CPU ms/req | errors | notes |',
      '|---|---|---:|---:|---:|---:|---:|---|',
      ...rows,
      '',
      recall === undefined ? '' : `recall@20 through the server vs exact: ${recall.toFixed(3)}`,
      '',
    ].join('\n'),
  );
}

async function cacheCounts(base: string): Promise<{ hit: number; user: number; miss: number }> {
  const text = await readMetrics(base);
  const read = (result: string) => Number(new RegExp(`graft_serving_cache_lookups_total\\{result="${result}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
  return { hit: read('hit'), user: read('user'), miss: read('miss') };
}

main().catch((error) => {
  process.stderr.write(`${error?.stack ?? error}\n`);
  process.exit(1);
});
