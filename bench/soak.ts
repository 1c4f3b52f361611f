/**
 * Soak: minutes of mixed traffic from all three roles against a real `graft serve` on
 * Postgres with the demo seed, while transfer jobs run on a `graft worker` one after the
 * other, and one abusive client sends the heaviest request the limits let through.
 *
 *   npm run bench -- soak [--minutes 10] [--app 6] [--analyst 2] [--admin 1] [--users 1000]
 *     [--abuse-aliases 200] [--abuse-first 100] [--abuse-role APP|ANALYST|ADMIN|NONE]
 *     [--abuse-body FILE] [--abuse-connections 1] [--rss-every 5] [--timeout 30]
 *     [--database-url postgres://postgres@127.0.0.1:5432/postgres]
 *
 * Traffic (each client a closed loop: one request in flight):
 *   APP       recommendations (first 10), similarItems (first 5), recordEvents (10 events)
 *   ANALYST   nearestNeighbors, embeddingProjection (UMAP 500, cached after the first), modelComparison, trainingCurve
 *   ADMIN     startTransfer (the next as soon as one ends; kept running all along), job(id), jobs
 *   abusive   `--abuse-aliases` aliases of recommendations(first: `--abuse-first`) with items and
 *             reasons; when the server refuses it for a limit, the alias count is halved until
 *             it passes, so it is the heaviest of its shape the limits allow (or pass any body
 *             with `--abuse-body FILE`, a JSON `{ "query": ... }`, to re-tune after the limits change)
 *   probe     GET /healthz every second (is anyone starved?)
 *
 * Reports req/s and p50/p99 per operation, errors by kind, the server's RSS over time
 * (sampled; growth after the warm-up, the first fifth of the run), and events lost:
 * events acknowledged by recordEvents vs rows in `events` (must be 0).
 * Prints markdown on stdout, progress on stderr.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { createApiKey } from '../src/auth/index.js';
import { runDemo } from '../src/cli/demo.js';
import { connect } from '../src/db/connect.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { arg, freshBenchDatabase } from './bench-args.js';

const MINUTES = Number(arg('minutes', '10'));
const APP_CLIENTS = Number(arg('app', '6'));
const ANALYST_CLIENTS = Number(arg('analyst', '2'));
const ADMIN_CLIENTS = Number(arg('admin', '1'));
const USERS = Number(arg('users', '1000'));
const ABUSE_ALIASES = Number(arg('abuse-aliases', '200'));
const ABUSE_FIRST = Number(arg('abuse-first', '100'));
const ABUSE_ROLE = arg('abuse-role', 'APP') as 'APP' | 'ANALYST' | 'ADMIN' | 'NONE';
const ABUSE_BODY_FILE = arg('abuse-body', '');
const ABUSE_CONNECTIONS = Number(arg('abuse-connections', '1'));
const RSS_EVERY_S = Number(arg('rss-every', '5'));
const TIMEOUT_MS = Number(arg('timeout', '30')) * 1000;
const ADMIN_URL = arg('database-url', process.env.GRAFT_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
const PORT = 4600 + Math.floor(Math.random() * 300);
const EVENTS_PER_CALL = 10;
const log = (m: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${m}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Latencies and errors of one operation. */
class OperationStats {
  readonly latencies: number[] = [];
  readonly errors = new Map<string, number>();
  ok = 0;
  error(kind: string): void {
    this.errors.set(kind, (this.errors.get(kind) ?? 0) + 1);
  }
}
const stats = new Map<string, OperationStats>();
const statsOf = (op: string) => stats.get(op) ?? stats.set(op, new OperationStats()).get(op)!;

/** What the server answered: `data` when it succeeded, else the error kind (HTTP status or GraphQL code). */
async function graphql(base: string, key: string | undefined, op: string, body: string, measure = true): Promise<any> {
  const s = statsOf(op);
  const started = performance.now();
  let kind: string | undefined;
  let data: any;
  try {
    const res = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body,
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    const text = await res.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (json?.errors?.length) {
      const codes = [...new Set(json.errors.map((e: any) => e.extensions?.code ?? 'NO_CODE'))].join('+');
      kind = `HTTP ${res.status} ${codes}: ${String(json.errors[0].message).slice(0, 90)}`;
    } else if (!res.ok || !json) kind = `HTTP ${res.status}`;
    else data = json.data;
  } catch (error) {
    kind = (error as Error).name === 'TimeoutError' ? `timeout (${TIMEOUT_MS / 1000} s)` : `network: ${(error as Error).message}`;
  }
  if (measure) s.latencies.push(performance.now() - started);
  if (kind === undefined) s.ok++;
  else s.error(kind);
  return { data, kind };
}

/** RSS (kB) of a process and its children (a `--workers` cluster, a training child). */
function rssKb(pid: number): { self: number; children: number } {
  const rss = (p: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
  let self = 0;
  let children = 0;
  try {
    self = rss(pid);
  } catch {
    return { self: 0, children: 0 };
  }
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const ppid = Number(readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
      if (ppid === pid) children += rss(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return { self, children };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Slope of y over x by least squares (per unit of x). */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

async function waitHealthy(base: string, server: ChildProcess): Promise<void> {
  for (;;) {
    if (server.exitCode !== null) throw new Error(`server exited with code ${server.exitCode}`);
    try {
      if ((await fetch(`${base}/healthz`)).status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(250);
  }
}

const abusiveQuery = (aliases: number) =>
  `query Abuse($u: ID!) { ${Array.from({ length: aliases }, (_, i) => `r${i}: recommendations(userId: $u, domain: "target", first: ${ABUSE_FIRST}) { tier edges { cursor node { rank score item { id title tags } reason { tier becauseOf { id title } } } } }`).join(' ')} }`;

/** Refusals that mean "over a limit" (not a server fault): the abusive client shrinks on these. */
const isLimitRefusal = (kind: string | undefined) => kind !== undefined && /GRAPHQL_VALIDATION_FAILED|BAD_USER_INPUT|COST|DEPTH|LIMIT|HTTP 413|HTTP 400/i.test(kind);

async function main() {
  const url = await freshBenchDatabase(ADMIN_URL, 'graft_bench_soak');

  log(`demo seed (${USERS} users), pretrain, transfer, activate: what \`graft start\` does on an empty database`);
  const gdb = await connect({ databaseUrl: url });
  await migrateToLatest(gdb.db);
  const demo = await runDemo(gdb, { users: USERS, quiet: true });
  const keys = {
    ADMIN: demo.adminKey,
    ANALYST: (await createApiKey(gdb.db, { name: 'soak-analyst', role: 'ANALYST' })).key,
    APP: (await createApiKey(gdb.db, { name: 'soak-app', role: 'APP' })).key,
  };
  const targetItems = (
    await gdb.db.selectFrom('items').innerJoin('domains', 'domains.id', 'items.domain_id').select('items.external_id').where('domains.name', '=', 'target').execute()
  ).map((r) => r.external_id);
  const targetUsers = (
    await gdb.db
      .selectFrom('events')
      .innerJoin('domains', 'domains.id', 'events.domain_id')
      .innerJoin('users', 'users.id', 'events.user_id')
      .select('users.external_id')
      .distinct()
      .where('domains.name', '=', 'target')
      .execute()
  ).map((r) => r.external_id);
  log(`demo ready: ${targetItems.length} target items, ${targetUsers.length} target users; source model ${demo.sourceModelId}, target model ${demo.targetModelId}`);

  const main = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
  const env = { ...process.env, DATABASE_URL: url, LOG_LEVEL: 'warn' };
  const server = spawn(process.execPath, [main, 'serve', '--port', String(PORT)], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const worker = spawn(process.execPath, [main, 'worker', '--concurrency', '1'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const base = `http://127.0.0.1:${PORT}`;
  try {
    await waitHealthy(base, server);
    log('server up; worker started');

    const rng = (() => {
      let s = 12345;
      return () => ((s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x80000000);
    })();
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rng() * xs.length)]!;

    // The abusive body: given, or the largest alias count of its shape that the limits let through.
    let abuseBody: string;
    let abuseNote: string;
    const abuseKey = ABUSE_ROLE === 'NONE' ? undefined : keys[ABUSE_ROLE];
    if (ABUSE_BODY_FILE) {
      abuseBody = readFileSync(ABUSE_BODY_FILE, 'utf8');
      abuseNote = `body from ${ABUSE_BODY_FILE} (${abuseBody.length.toLocaleString('en-US')} bytes)`;
    } else {
      let aliases = ABUSE_ALIASES;
      for (;;) {
        const body = JSON.stringify({ query: abusiveQuery(aliases), variables: { u: targetUsers[0] } });
        const probe = await graphql(base, abuseKey, 'abuse probe', body);
        if (probe.kind === undefined || !isLimitRefusal(probe.kind) || aliases === 1) {
          abuseBody = body;
          abuseNote = `${aliases} aliases of recommendations(first: ${ABUSE_FIRST}) with items and reasons, ${body.length.toLocaleString('en-US')} bytes, as ${ABUSE_ROLE}${probe.kind ? ` (probe answered: ${probe.kind})` : ''}`;
          break;
        }
        log(`abusive query with ${aliases} aliases refused (${probe.kind}); halving`);
        aliases = Math.max(1, Math.floor(aliases / 2));
      }
    }
    log(`abusive client: ${abuseNote}`);

    const durationMs = MINUTES * 60_000;
    const started = performance.now();
    const running = () => performance.now() - started < durationMs;
    let eventsAcknowledged = 0;
    let eventsUnacknowledged = 0;
    let eventSeq = 0;
    let transfersStarted = 0;
    const transferOutcomes = new Map<string, number>();
    const rssSamples: { t: number; self: number; children: number; worker: number }[] = [];

    const appClient = async (c: number) => {
      for (let i = 0; running(); i++) {
        const r = (i + c) % 3;
        if (r === 0) {
          await graphql(base, keys.APP, 'recommendations', JSON.stringify({
            query: 'query($u: ID!) { recommendations(userId: $u, domain: "target", first: 10) { tier modelVersion edges { node { rank score item { id title tags } reason { tier } } } } }',
            variables: { u: pick(targetUsers) },
          }));
        } else if (r === 1) {
          await graphql(base, keys.APP, 'similarItems', JSON.stringify({
            query: 'query($i: ID!) { similarItems(itemId: $i, domain: "target", first: 5) { modelVersion items { rank score item { id title } } } }',
            variables: { i: pick(targetItems) },
          }));
        } else {
          const events = Array.from({ length: EVENTS_PER_CALL }, () => ({ userId: `soak-u${eventSeq++ % 5000}`, domain: 'target', itemId: pick(targetItems), kind: 'CLICK' }));
          const res = await graphql(base, keys.APP, 'recordEvents', JSON.stringify({
            query: 'mutation($e: [EventInput!]!) { recordEvents(events: $e) { recorded usersCreated } }',
            variables: { e: events },
          }));
          if (res.data?.recordEvents) eventsAcknowledged += res.data.recordEvents.recorded;
          else eventsUnacknowledged += EVENTS_PER_CALL;
        }
      }
    };
    const analystClient = async (c: number) => {
      for (let i = 0; running(); i++) {
        const r = (i + c) % 4;
        const body =
          r === 0
            ? { op: 'nearestNeighbors', query: 'query($m: ID!, $i: ID!) { nearestNeighbors(modelId: $m, kind: ITEM, id: $i, first: 10) { rank id label score } }', variables: { m: demo.targetModelId, i: pick(targetItems) } }
            : r === 1
              ? { op: 'embeddingProjection', query: 'query($m: ID!) { embeddingProjection(modelId: $m, kind: ITEM, method: UMAP, sample: 500, seed: 1, colorBy: TAG) { cached points { id x y label color } } }', variables: { m: demo.targetModelId } }
              : r === 2
                ? { op: 'modelComparison', query: 'query($a: ID!, $b: ID!) { modelComparison(a: $a, b: $b, k: 10) { sharedUsers sharedItems neighborOverlap { users items } meanUserCosine layers { name relativeChange } } }', variables: { a: demo.sourceModelId, b: demo.targetModelId } }
                : { op: 'trainingCurve', query: 'query($m: ID!) { trainingCurve(modelId: $m) { source bestEpoch series { phase points { epoch loss validation } } } }', variables: { m: demo.targetModelId } };
        await graphql(base, keys.ANALYST, body.op, JSON.stringify({ query: body.query, variables: body.variables }));
      }
    };
    let currentJob: string | undefined;
    const transferLoop = async () => {
      while (running()) {
        const res = await graphql(base, keys.ADMIN, 'startTransfer', JSON.stringify({
          query: `mutation($s: ID!, $k: String!) { startTransfer(input: { sourceModelId: $s, targetDomain: "target", strategy: PARTIAL, freezeLayers: 1, epochs: 2, device: AUTO, activateIfBetter: false, idempotencyKey: $k }) { id status } }`,
          variables: { s: demo.sourceModelId, k: `soak-${transfersStarted}-${Date.now()}` },
        }));
        if (!res.data) {
          await sleep(2_000);
          continue;
        }
        transfersStarted++;
        currentJob = res.data.startTransfer.id;
        for (;;) {
          await sleep(1_000);
          const job = await graphql(base, keys.ADMIN, 'job', JSON.stringify({ query: 'query($j: ID!) { job(id: $j) { status progress { phase epoch step } } }', variables: { j: currentJob } }));
          const status = job.data?.job?.status;
          if (status === 'SUCCEEDED' || status === 'FAILED' || status === 'CANCELLED') {
            transferOutcomes.set(status, (transferOutcomes.get(status) ?? 0) + 1);
            break;
          }
          if (!running()) {
            transferOutcomes.set('still running at the end', (transferOutcomes.get('still running at the end') ?? 0) + 1);
            return;
          }
        }
      }
    };
    const adminClient = async () => {
      while (running()) {
        await graphql(base, keys.ADMIN, 'jobs', JSON.stringify({ query: '{ jobs(first: 10) { edges { node { id kind status } } } }' }));
        await sleep(500);
      }
    };
    const abusiveClient = async () => {
      while (running()) await graphql(base, abuseKey, 'abusive', abuseBody);
    };
    const healthProbe = async () => {
      while (running()) {
        const s = statsOf('GET /healthz');
        const t = performance.now();
        try {
          const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
          await res.text();
          if (res.ok) s.ok++;
          else s.error(`HTTP ${res.status}`);
        } catch (error) {
          s.error((error as Error).name === 'TimeoutError' ? 'timeout' : `network: ${(error as Error).message}`);
        }
        s.latencies.push(performance.now() - t);
        await sleep(1_000);
      }
    };
    const rssSampler = async () => {
      while (running()) {
        const s = rssKb(server.pid!);
        rssSamples.push({ t: (performance.now() - started) / 1000, self: s.self, children: s.children, worker: rssKb(worker.pid!).self });
        const last = rssSamples.at(-1)!;
        if (rssSamples.length % Math.max(1, Math.round(60 / RSS_EVERY_S)) === 0) {
          const done = [...stats.values()].reduce((a, s2) => a + s2.ok + [...s2.errors.values()].reduce((x, y) => x + y, 0), 0);
          log(`t=${last.t.toFixed(0)} s: server RSS ${(last.self / 1024).toFixed(0)} MB, ${done} requests, ${eventsAcknowledged} events acknowledged, ${transfersStarted} transfers started, load ${loadavg()[0]!.toFixed(1)}`);
        }
        await sleep(RSS_EVERY_S * 1000);
      }
    };

    log(`soak: ${MINUTES} min; ${APP_CLIENTS} APP, ${ANALYST_CLIENTS} ANALYST, ${ADMIN_CLIENTS} ADMIN clients, ${ABUSE_CONNECTIONS} abusive, transfers on the worker`);
    const loadStart = loadavg()[0]!;
    await Promise.all([
      ...Array.from({ length: APP_CLIENTS }, (_, c) => appClient(c)),
      ...Array.from({ length: ANALYST_CLIENTS }, (_, c) => analystClient(c)),
      ...Array.from({ length: ADMIN_CLIENTS }, () => adminClient()),
      ...Array.from({ length: ABUSE_CONNECTIONS }, () => abusiveClient()),
      transferLoop(),
      healthProbe(),
      rssSampler(),
    ]);
    const elapsedS = (performance.now() - started) / 1000;
    const loadEnd = loadavg()[0]!;

    // Events: acknowledged vs stored (every soak user is `soak-u*`, so nothing else counts).
    const { rows } = await sql<{ n: number }>`
      select count(*)::int as n from events e join users u on u.id = e.user_id where u.external_id like 'soak-u%'`.execute(gdb.db);
    const stored = rows[0]!.n;
    await gdb.close();

    // RSS after the warm-up (the first fifth): growth and slope.
    const warm = rssSamples.filter((s) => s.t >= elapsedS / 5);
    const mb = (kb: number) => kb / 1024;
    const rssSlope = warm.length > 2 ? slope(warm.map((s) => s.t / 60), warm.map((s) => mb(s.self))) : Number.NaN;
    const firstWarm = warm[0];
    const lastWarm = warm.at(-1);
    const peak = Math.max(...rssSamples.map((s) => s.self));
    const minutes = Array.from({ length: Math.max(1, Math.round(elapsedS / 60)) }, (_, m) => {
      const inMinute = rssSamples.filter((s) => s.t >= m * 60 && s.t < (m + 1) * 60);
      return inMinute.length ? mb(Math.max(...inMinute.map((s) => s.self))).toFixed(0) : '-';
    });

    const order = ['recommendations', 'similarItems', 'recordEvents', 'nearestNeighbors', 'embeddingProjection', 'modelComparison', 'trainingCurve', 'startTransfer', 'job', 'jobs', 'abusive', 'abuse probe', 'GET /healthz'];
    const lines: string[] = [];
    for (const op of [...order.filter((o) => stats.has(o)), ...[...stats.keys()].filter((o) => !order.includes(o))]) {
      const s = stats.get(op)!;
      const sorted = [...s.latencies].sort((a, b) => a - b);
      const errors = [...s.errors.values()].reduce((a, b) => a + b, 0);
      lines.push(`| ${op} | ${s.ok + errors} | ${((s.ok + errors) / elapsedS).toFixed(1)} | ${percentile(sorted, 50).toFixed(0)} | ${percentile(sorted, 99).toFixed(0)} | ${percentile(sorted, 100).toFixed(0)} | ${errors} |`);
    }
    const errorLines = [...stats.entries()].flatMap(([op, s]) => [...s.errors.entries()].map(([kind, n]) => `| ${op} | ${kind.replace(/\|/g, '\\|')} | ${n} |`));
    const total = [...stats.values()].reduce((a, s) => a + s.ok + [...s.errors.values()].reduce((x, y) => x + y, 0), 0);
    process.stdout.write(
      [
        `machine: ${cpus().length} x ${cpus()[0]?.model}, ${(totalmem() / 2 ** 30).toFixed(0)} GB; load average ${loadStart.toFixed(1)} at the start, ${loadEnd.toFixed(1)} at the end (shared machine)`,
        `run: ${(elapsedS / 60).toFixed(1)} min; demo seed ${USERS} users on Postgres; \`graft serve\` (1 process) + \`graft worker --concurrency 1\`; ` +
          `${APP_CLIENTS} APP, ${ANALYST_CLIENTS} ANALYST, ${ADMIN_CLIENTS} ADMIN closed-loop clients; abusive client x${ABUSE_CONNECTIONS}: ${abuseNote}`,
        '',
        `all operations: ${total} requests, ${(total / elapsedS).toFixed(1)} req/s`,
        '',
        '| operation | requests | req/s | p50 ms | p99 ms | max ms | errors |',
        '|---|---:|---:|---:|---:|---:|---:|',
        ...lines,
        '',
        errorLines.length ? ['| operation | error kind | count |', '|---|---|---:|', ...errorLines].join('\n') : 'errors: none',
        '',
        `transfers: ${transfersStarted} started; ${[...transferOutcomes.entries()].map(([k, v]) => `${v} ${k}`).join(', ') || 'none finished'}`,
        `events: ${eventsAcknowledged} acknowledged by recordEvents, ${stored} stored, lost ${eventsAcknowledged - Math.min(stored, eventsAcknowledged)}` +
          `${stored > eventsAcknowledged ? ` (${stored - eventsAcknowledged} stored from calls whose answer did not arrive)` : ''}; ${eventsUnacknowledged} sent in calls that failed`,
        `server RSS (MB), peak per minute: ${minutes.join(', ')}; peak ${mb(peak).toFixed(0)} MB; after the warm-up (t >= ${(elapsedS / 5).toFixed(0)} s) ` +
          `${firstWarm ? mb(firstWarm.self).toFixed(0) : '-'} -> ${lastWarm ? mb(lastWarm.self).toFixed(0) : '-'} MB, slope ${rssSlope.toFixed(1)} MB/min; ` +
          `worker RSS at the end ${mb(rssSamples.at(-1)?.worker ?? 0).toFixed(0)} MB (its training child comes and goes)`,
        '',
      ].join('\n'),
    );
  } finally {
    server.kill('SIGTERM');
    worker.kill('SIGTERM');
    await Promise.all([server, worker].map((p) => new Promise((resolve) => (p.exitCode !== null ? resolve(undefined) : p.once('exit', resolve)))));
  }
}

main().catch((error) => {
  process.stderr.write(`${error?.stack ?? error}\n`);
  process.exit(1);
});
