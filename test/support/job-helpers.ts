import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GraftDatabase } from '../../src/db/connect.js';
import type { PretrainJobInput } from '../../src/jobs/job-record.js';
import { listJobEvents } from '../../src/jobs/job-repository.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');

/** A tiny pretraining job: one epoch on the 200-user synthetic source takes well under a second. */
export const SMALL_JOB: PretrainJobInput = { domain: 'source', epochs: 1, dim: 8, layers: [16], batchSize: 64, patience: 0, negatives: 99 };
/** A job that would run for minutes: only ever cancelled or killed. */
export const ENDLESS_JOB: PretrainJobInput = { ...SMALL_JOB, epochs: 5000 };

/** Worker processes and training children run compiled JavaScript: the suite needs `npm run build` first (CI does it). */
export function requireBuild(): void {
  for (const file of [CLI, join(ROOT, 'dist', 'src', 'jobs', 'training.child.js')]) {
    if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` before the job tests`);
  }
}

/** Polls `probe` until it returns a value (not undefined/false), failing after `timeoutMs` with `what`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export async function eventKinds(gdb: GraftDatabase, jobId: string): Promise<string[]> {
  return (await listJobEvents(gdb.db, jobId)).map((e) => e.kind);
}

/** True while a process with this pid exists. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A real `graft worker` process (node dist/src/cli/main.js worker). */
export class WorkerProcess {
  output = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(readonly child: ChildProcess) {
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      this.output += chunk;
      if (process.env.GRAFT_TEST_VERBOSE) process.stderr.write(`[worker ${child.pid}] ${chunk}`);
    });
    this.exited = new Promise((r) => child.on('exit', (code, signal) => r({ code, signal })));
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Starts a worker and waits for its "ready" line (or its exit, for workers expected to refuse). */
  static async start(databaseUrl: string, args: string[], options: { expectReady?: boolean } = {}): Promise<WorkerProcess> {
    const child = spawn(process.execPath, [CLI, 'worker', ...args], { env: { ...process.env, DATABASE_URL: databaseUrl }, stdio: ['ignore', 'ignore', 'pipe'] });
    const worker = new WorkerProcess(child);
    if (options.expectReady === false) return worker;
    let exited = false;
    void worker.exited.then(() => (exited = true));
    await waitFor(`graft worker to be ready (output so far: ${worker.output})`, () => {
      if (exited) throw new Error(`graft worker exited before it was ready: ${worker.output}`);
      return / ready: /.test(worker.output);
    }, 60_000);
    return worker;
  }

  /** SIGTERM and wait for the exit (running jobs go back to the queue). */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await this.exited;
  }
}
