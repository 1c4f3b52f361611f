/**
 * The job system's costs, on Postgres (one real `graft worker` process, graphile-worker,
 * LISTEN/NOTIFY) and on PGlite (the in-process runner):
 *
 * * pickup latency: from `enqueueJob` (what `startTransfer` calls) to the job RUNNING, and to
 *   its first training step (child process start, backend, data read included);
 * * overhead: wall time of a transfer run as a job (enqueue -> SUCCEEDED) over the same
 *   transfer called directly in this process (prepareTransfer + transfer + registerTrainedModel),
 *   alternating rounds in the same run; plus the job's database writes. On Postgres also the
 *   direct call in a fresh process (timed inside it, after its imports): a job's child is a
 *   fresh process too, so job / fresh-process separates the job machinery from the cold start.
 *
 *   npm run build && node dist/bench/jobs.js [--users 2000] [--epochs 3] [--rounds 3] [--pickups 5] [--skip-pglite] [--skip-postgres]
 *
 * Needs the local Postgres (POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres);
 * creates and drops its own database. Prints markdown tables on stdout.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import pg from 'pg';
import { seedSynthetic } from '../seeds/seed-database.js';
import { connect, type GraftDatabase } from '../src/db/connect.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { startInProcessRunner } from '../src/jobs/in-process-runner.js';
import type { JobRecord, TransferJobInput } from '../src/jobs/job-record.js';
import { enqueueJob, getJob, listJobEvents } from '../src/jobs/job-repository.js';
import { DEFAULT_EVALUATION, DEFAULT_MODEL, DEFAULT_TRAINING } from '../src/workflows/model-settings.js';
import { prepareTransfer } from '../src/workflows/prepare-transfer.js';
import { prepareDomain } from '../src/workflows/prepared-domain.js';
import { pretrain } from '../src/workflows/pretrain.workflow.js';
import { registerTrainedModel } from '../src/workflows/register-trained-model.js';
import { transfer } from '../src/workflows/transfer.workflow.js';

const ADMIN_URL = process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const HERE = fileURLToPath(import.meta.url);
const CLI = join(dirname(HERE), '..', 'src', 'cli', 'main.js');

function arg(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(process.argv[at + 1]);
}

const USERS = arg('users', 2000);
const EPOCHS = arg('epochs', 3);
const ROUNDS = arg('rounds', 3);
const PICKUPS = arg('pickups', 5);
const MODEL = { ...DEFAULT_MODEL, dim: 32, layers: [64, 32] };
const EVALUATION = { ...DEFAULT_EVALUATION, negatives: 199 };

/** The transfer measured both ways: the job's input, and the same settings for the direct call. */
function transferInput(sourceModelId: string, epochs: number, seed: number): TransferJobInput {
  return { sourceModelId, targetDomain: 'target', strategy: 'PARTIAL', freezeLayers: 1, jointReference: false, epochs, patience: 0, seed, negatives: EVALUATION.negatives };
}

async function directTransfer(gdb: GraftDatabase, input: TransferJobInput): Promise<number> {
  const t0 = performance.now();
  const prepared = await prepareTransfer(gdb, input.sourceModelId, input.targetDomain, { split: { kind: 'leave-one-out', mode: 'last' }, coldStartShare: 0.1, seed: input.seed });
  const { trained, report } = await transfer(prepared, {
    strategy: 'PARTIAL',
    freezeLayers: 1,
    replayWeight: 0.5,
    replayFraction: 1,
    tokenDropout: 0,
    jointReference: false,
    training: { ...DEFAULT_TRAINING, epochs: input.epochs!, patience: 0 },
    evaluation: EVALUATION,
    seed: input.seed!,
  });
  await registerTrainedModel(gdb, { domain: 'target', kind: 'TRANSFER', strategy: 'PARTIAL', parentModelId: input.sourceModelId, transferReport: report as never, negativeTransfer: report.negativeTransfer }, trained);
  return (performance.now() - t0) / 1000;
}

/** The direct call in a new Node process (cold JIT, like a job's child); seconds measured inside it. */
function directInFreshProcess(url: string, input: TransferJobInput): Promise<number> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [HERE, '--direct-child', url, JSON.stringify(input)], (error, stdout) => (error ? reject(error) : resolve(Number(stdout.trim()))));
  });
}

async function untilFinished(gdb: GraftDatabase, id: string, pollMs: number): Promise<JobRecord> {
  for (;;) {
    const job = await getJob(gdb.db, id);
    if (job.status !== 'QUEUED' && job.status !== 'RUNNING') {
      if (job.status !== 'SUCCEEDED') throw new Error(`job ${id} ended ${job.status}: ${job.error}`);
      return job;
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (x: number) => `${Math.round(x)}`;

async function jobsRowUpdates(gdb: GraftDatabase): Promise<number | undefined> {
  if (gdb.kind !== 'postgres') return undefined;
  const { rows } = await sql<{ n: number }>`select n_tup_upd::int as n from pg_stat_user_tables where relname = 'jobs'`.execute(gdb.db);
  return rows[0]?.n;
}

async function bench(kind: 'postgres' | 'pglite'): Promise<string[]> {
  let gdb: GraftDatabase;
  let url: string | undefined;
  let drop = async () => {};
  if (kind === 'pglite') {
    gdb = await connect({ dataDir: 'memory://', databaseUrl: '' });
  } else {
    const name = `graft_bench_jobs_${process.pid}`;
    const admin = new pg.Client({ connectionString: ADMIN_URL });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    const u = new URL(ADMIN_URL);
    u.pathname = `/${name}`;
    url = u.toString();
    gdb = await connect({ databaseUrl: url, poolSize: 4 });
    drop = async () => {
      const c = new pg.Client({ connectionString: ADMIN_URL });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    };
  }
  let worker: ChildProcess | undefined;
  let stopRunner = async () => {};
  try {
    await migrateToLatest(gdb.db);
    const seeded = await seedSynthetic(gdb, { users: USERS, seed: 1 });
    process.stderr.write(`${kind}: seeded ${seeded.domains.map((d) => `${d.name} ${d.events} events`).join(', ')}\n`);
    const prepared = await prepareDomain(gdb, 'source', { split: { kind: 'leave-one-out', mode: 'last' }, tokenBuckets: MODEL.tokenBuckets });
    const trained = await pretrain(prepared, { model: MODEL, training: { ...DEFAULT_TRAINING, epochs: 2, patience: 0 }, evaluation: EVALUATION });
    const source = await registerTrainedModel(gdb, { domain: 'source', kind: 'PRETRAIN' }, trained);

    if (kind === 'postgres') {
      worker = spawn(process.execPath, [CLI, 'worker', '--device', 'cpu'], { env: { ...process.env, DATABASE_URL: url }, stdio: ['ignore', 'ignore', 'pipe'] });
      await new Promise<void>((resolve, reject) => {
        let out = '';
        worker!.stderr!.on('data', (d: Buffer) => {
          out += String(d);
          if (/ ready: /.test(out)) resolve();
        });
        worker!.on('exit', () => reject(new Error(`worker exited: ${out}`)));
      });
      const w = worker;
      stopRunner = async () => {
        w.kill('SIGTERM');
        await new Promise((r) => w.once('exit', r));
      };
    } else {
      const runner = startInProcessRunner(gdb, { pollIntervalMs: 1000 });
      stopRunner = () => runner.stop();
    }
    await new Promise((r) => setTimeout(r, 1000));

    // Pickup: an idle runner, one job at a time.
    const enqueueMs: number[] = [];
    const toRunningMs: number[] = [];
    const toTrainingMs: number[] = [];
    for (let i = 0; i < PICKUPS; i++) {
      // An idle runner, as when jobs arrive now and then: its spare training process has warmed up.
      await new Promise((r) => setTimeout(r, 3000));
      const t0 = performance.now();
      const job = await enqueueJob(gdb, { kind: 'TRANSFER', input: transferInput(source.id, 1, 100 + i) });
      enqueueMs.push(performance.now() - t0);
      const done = await untilFinished(gdb, job.id, 50);
      toRunningMs.push(done.startedAt!.getTime() - done.createdAt.getTime());
      const firstStep = (await listJobEvents(gdb.db, job.id, { kinds: ['progress'] }))[0];
      if (firstStep) toTrainingMs.push(firstStep.createdAt.getTime() - done.createdAt.getTime());
    }

    // Overhead: the same transfer directly and as a job, alternating.
    const direct: number[] = [];
    const fresh: number[] = [];
    const asJob: number[] = [];
    const events: number[] = [];
    const updatesPerSecond: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      direct.push(await directTransfer(gdb, transferInput(source.id, EPOCHS, 7)));
      if (url) fresh.push(await directInFreshProcess(url, transferInput(source.id, EPOCHS, 7)));
      const before = await jobsRowUpdates(gdb);
      const t0 = performance.now();
      const job = await enqueueJob(gdb, { kind: 'TRANSFER', input: transferInput(source.id, EPOCHS, 7) });
      const done = await untilFinished(gdb, job.id, 20);
      const seconds = (performance.now() - t0) / 1000;
      asJob.push(seconds);
      events.push((await listJobEvents(gdb.db, job.id, { limit: 5000 })).length);
      if (before !== undefined) {
        await new Promise((r) => setTimeout(r, 1500)); // statistics reach pg_stat_user_tables about once a second
        const after = await jobsRowUpdates(gdb);
        const running = (done.finishedAt!.getTime() - done.startedAt!.getTime()) / 1000;
        if (after !== undefined) updatesPerSecond.push((after - before) / running);
      }
      process.stderr.write(`${kind} round ${round + 1}: direct ${direct.at(-1)!.toFixed(2)} s${url ? `, fresh process ${fresh.at(-1)!.toFixed(2)} s` : ''}, job ${seconds.toFixed(2)} s\n`);
    }
    const runner = kind === 'postgres' ? 'graphile-worker, 1 `graft worker` process' : 'in-process runner';
    const ratio = median(asJob) / median(direct);
    return [
      `| ${kind} | ${runner} | ${ms(median(enqueueMs))} | ${ms(median(toRunningMs))} (max ${ms(Math.max(...toRunningMs))}) | ${ms(median(toTrainingMs))} |`,
      `| ${kind} | ${median(direct).toFixed(2)} | ${fresh.length ? median(fresh).toFixed(2) : '-'} | ${median(asJob).toFixed(2)} | **${ratio.toFixed(2)}** | ${fresh.length ? (median(asJob) / median(fresh)).toFixed(2) : '-'} | ${median(events)} | ${updatesPerSecond.length ? median(updatesPerSecond).toFixed(1) : '-'} |`,
    ];
  } finally {
    await stopRunner();
    await gdb.close();
    await drop();
  }
}

if (process.argv[2] === '--direct-child') {
  const gdb = await connect({ databaseUrl: process.argv[3]!, poolSize: 2 });
  const seconds = await directTransfer(gdb, JSON.parse(process.argv[4]!) as TransferJobInput);
  await gdb.close();
  process.stdout.write(`${seconds}\n`);
  process.exit(0);
}

const rows: string[][] = [];
if (!process.argv.includes('--skip-postgres')) rows.push(await bench('postgres'));
if (!process.argv.includes('--skip-pglite')) rows.push(await bench('pglite'));
process.stdout.write(`pickup (median of ${PICKUPS}; runner idle for 3 s before each job; database clock):\n\n`);
process.stdout.write('| storage | runner | enqueue call ms | queued -> RUNNING ms | queued -> first training step ms |\n|---|---|---:|---:|---:|\n');
for (const r of rows) process.stdout.write(`${r[0]}\n`);
process.stdout.write(`\noverhead (median of ${ROUNDS} alternating rounds; PARTIAL transfer, ${EPOCHS} epochs + same-budget baseline, ${USERS} users):\n\n`);
process.stdout.write('| storage | direct call s | direct, fresh process s | as a job s | job / direct | job / fresh process | job_events rows | jobs-row writes / s |\n|---|---:|---:|---:|---:|---:|---:|---:|\n');
for (const r of rows) process.stdout.write(`${r[1]}\n`);
