import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../src/auth/index.js';
import { freshDatabase, type TestDatabase } from './support/databases.js';
import { CLI, processAlive, requireBuild, waitFor } from './support/job-helpers.js';

/** `graft serve --workers N`: real processes sharing one port on Postgres. */
describe('graft serve --workers (Postgres)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    requireBuild();
    db = await freshDatabase('postgres');
  });
  afterAll(async () => db?.dispose());

  it('serves from N processes on one port, /metrics sums every worker, SIGTERM stops them all', async () => {
    const { key } = await createApiKey(db.db, { name: 'cluster', role: 'APP' });
    const { key: scraper } = await createApiKey(db.db, { name: 'prometheus', role: 'ANALYST' });
    const port = 4600 + Math.floor(Math.random() * 300);
    const child = spawn(process.execPath, [CLI, 'serve', '--workers', '2', '--port', String(port)], {
      env: { ...process.env, DATABASE_URL: db.url!, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let output = '';
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (output += c));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const base = `http://127.0.0.1:${port}`;
      await waitFor(`the server to answer /healthz (stderr: ${output})`, async () => {
        if (child.exitCode !== null) throw new Error(`graft serve exited: ${output}`);
        return (await fetch(`${base}/healthz`).then((r) => r.status === 200).catch(() => false)) || undefined;
      }, 60_000);
      await waitFor(`both workers listening (stderr: ${output})`, () => (output.match(/GraphQL: /g) ?? []).length === 2, 60_000);
      // Each request on a new connection: the primary hands connections to the workers in turn.
      for (let i = 0; i < 20; i++) {
        const res = await fetch(`${base}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, connection: 'close' },
          body: JSON.stringify({ query: '{ domains { name } }' }),
        });
        expect(res.status).toBe(200);
      }
      const metrics = await (await fetch(`${base}/metrics`, { headers: { connection: 'close', authorization: `Bearer ${scraper}` }, signal: AbortSignal.timeout(15_000) })).text();
      // Connections go to the workers in turn: only the sum over both workers counts all 20.
      expect(metrics).toMatch(/graft_graphql_requests_total\{operation="domains",outcome="ok"\} 20\b/);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(processAlive(child.pid!)).toBe(false);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 120_000);
});

describe('graft serve --workers on the embedded database', () => {
  it('refuses, naming DATABASE_URL', async () => {
    requireBuild();
    const child = spawn(process.execPath, [CLI, 'serve', '--workers', '2'], {
      env: { ...process.env, DATABASE_URL: '', GRAFT_DATA_DIR: 'memory://' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let output = '';
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (output += c));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).not.toBe(0);
    expect(output).toMatch(/--workers 2 needs Postgres.*set DATABASE_URL/);
  }, 60_000);
});
