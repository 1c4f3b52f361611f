import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Db } from '../src/db/database.js';
import { GraftError } from '../src/errors.js';
import { importEventsFile, importItemsFile, ingestItems, recordEvents, type RecordedEvent } from '../src/logs/index.js';
import { describeEachStorage } from './support/databases.js';
import { importCounts, writeImportFile } from './support/import-files.js';

// Issue 19, item 5: the importer and recordEvents refuse what the database cannot store
// faithfully (invalid UTF-8, NUL, over-long fields) and what cannot be behaviour (weights
// <= 0 unless allowed, times before 1970 or in the future), as FILE:LINE or event #N
// errors with nothing written.

const run = promisify(execFile);
const CLI = join(import.meta.dirname, '..', 'dist', 'src', 'cli', 'main.js');

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'graft-import-validation-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const file = (name: string, content: string | Buffer) => writeImportFile(dir, name, content);
const counts = importCounts;

async function rejection(promise: Promise<unknown>): Promise<GraftError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GraftError);
  expect((error as GraftError).code).toBe('BAD_INPUT');
  return error as GraftError;
}

const good = 'u1\tball\t1\t2024-01-01T00:00:00Z\nu2\tball\t1\t2024-01-02T00:00:00Z\n';
const line3 = (user: string, weight = '1', time = '2024-01-03T00:00:00Z') => Buffer.from(`${good}${user}\tball\t${weight}\t${time}\n`);

describeEachStorage('import validation', (ctx) => {
  const badFiles: Array<[string, Buffer, Record<string, unknown>, RegExp]> = [
    // 0xff never occurs in UTF-8; 0xe9 is Latin-1 "é". A replacing decoder made both one user "u\ufffd".
    ['invalid UTF-8 (0xff)', Buffer.concat([Buffer.from(good), Buffer.from([0x75, 0xff, 0x09]), Buffer.from('ball\t1\t2024-01-03T00:00:00Z\n')]), {}, /:3: byte 2 of the line \(0xff\) is not UTF-8; convert the file to UTF-8/],
    ['Latin-1 text', Buffer.concat([Buffer.from(good), Buffer.from('caf'), Buffer.from([0xe9, 0x09]), Buffer.from('ball\t1\t2024-01-03T00:00:00Z\n')]), {}, /:3: byte 4 of the line \(0xe9\) is not UTF-8/],
    ['a NUL byte in an id', line3('u\u00003'), {}, /:3: user id "u\\u00003" contains a NUL character \(\\0\), which cannot be stored; remove it/],
    ['a NUL escape in jsonl', Buffer.from('{"user":"u1","item":"ball"}\n{"user":"u2","item":"ball"}\n{"user":"u3","item":"ba\\u0000ll"}\n'), { format: 'jsonl' }, /:3: item id "ba\\u0000ll" contains a NUL character/],
    ['an unpaired surrogate in jsonl', Buffer.from('{"user":"u1","item":"ball"}\n{"user":"u2","item":"ball"}\n{"user":"u\\ud800","item":"ball"}\n'), { format: 'jsonl' }, /:3: user id "u\\ud800" is not valid Unicode/],
    ['a 10 MB field', line3('x'.repeat(10 << 20)), {}, /:3: the line is longer than 1,048,576 bytes/],
    ['a 600-character id', line3('y'.repeat(600)), {}, /:3: user id "y{20}"\.\.\. is 600 characters long, more than the 500 allowed; shorten it/],
    ['a weight of -5', line3('u3', '-5'), {}, /:3: weight -5 is not positive; .*--allow-non-positive-weights/],
    ['a weight of 0', line3('u3', '0'), {}, /:3: weight 0 is not positive/],
    ['a weight of 1e308', line3('u3', '1e308'), {}, /:3: weight 1e\+308 is outside -1000000 \.\. 1000000/],
    ['a time in the year 9999', line3('u3', '1', '9999-12-31T00:00:00Z'), {}, /:3: time "9999-12-31T00:00:00Z" \(9999-12-31T00:00:00\.000Z\) is more than a day in the future/],
    ['unix ms read as seconds (year 5138)', line3('u3', '1', '99999999999'), {}, /:3: time "99999999999" \(5138-11-16T09:46:39\.000Z\) is more than a day in the future .*looks like unix milliseconds read as seconds.*1973-03-03T09:46:39\.999Z/],
    ['a time before 1970', line3('u3', '1', '1969-12-31T23:59:59Z'), {}, /:3: time "1969-12-31T23:59:59Z" .* is before 1970-01-01/],
  ];
  for (const [what, content, options, message] of badFiles) {
    it(`rejects a file with ${what} as FILE:LINE and writes nothing`, async () => {
      const before = await counts(ctx.db.db);
      const path = file(`bad-${what.replace(/\W/g, '-')}-${ctx.kind}.txt`, content);
      // batchSize 1: lines 1 and 2 are written before line 3 fails, so this tests the rollback too.
      const error = await rejection(importEventsFile(ctx.db, path, { domain: 'fresh', header: false, batchSize: 1, ...options }));
      expect(error.message).toMatch(message);
      expect(error.message.startsWith(`${path}:3: `)).toBe(true);
      expect(await counts(ctx.db.db)).toEqual(before);
    });
  }

  it('imports weights <= 0 when allowed, and keeps them as written', async () => {
    const path = file(`signed-${ctx.kind}.tsv`, 'n1\tball\t-5\t2024-01-01T00:00:00Z\nn2\tball\t0\t2024-01-02T00:00:00Z\n');
    const s = await importEventsFile(ctx.db, path, { domain: 'signed', header: false, allowNonPositiveWeights: true });
    expect(s.rows).toBe(2);
    const { rows } = await sql<{ weight: number }>`
      select e.weight from events e join domains d on d.id = e.domain_id where d.name = 'signed' order by e.occurred_at`.execute(ctx.db.db);
    expect(rows.map((r) => r.weight)).toEqual([-5, 0]);
  });

  it('still imports a file without times whose made-up times run past now', async () => {
    // Synthetic times are the import time + line number in ms; a file without a time column is never "in the future".
    const path = file(`no-times-${ctx.kind}.tsv`, 'user\titem\nt1\tball\nt2\tball\n');
    const s = await importEventsFile(ctx.db, path, { domain: 'notimes' });
    expect(s.rows).toBe(2);
  });

  it('rejects items with NUL, over-long titles, too many tags or NUL in features, naming the line', async () => {
    const before = await counts(ctx.db.db);
    const cases: Array<[string, RegExp]> = [
      ['ball\tBall\tteam\nbat\tB\u0000at\tteam\n', /:2: title "B\\u0000at" contains a NUL character/],
      [`ball\tBall\tteam\nbat\t${'t'.repeat(1001)}\tteam\n`, /:2: title "t{20}"\.\.\. is 1,001 characters long, more than the 1,000 allowed/],
      [`ball\tBall\t${Array.from({ length: 101 }, (_, i) => `t${i}`).join('|')}\n`, /:1: 101 tags are more than the 100 an item may have/],
    ];
    for (const [text, message] of cases) {
      const path = file(`items-${cases.findIndex((c) => c[0] === text)}-${ctx.kind}.tsv`, text);
      const error = await rejection(importItemsFile(ctx.db, path, { domain: 'cat', header: false }));
      expect(error.message).toMatch(message);
      expect(error.message.startsWith(`${path}:`)).toBe(true);
    }
    const jsonl = file(`items-features-${ctx.kind}.jsonl`, '{"item":"ball","features":{"note":"a\\u0000b"}}\n');
    expect((await rejection(importItemsFile(ctx.db, jsonl, { domain: 'cat' }))).message).toMatch(/:1: features .* contain a NUL character \(\\u0000\)/);
    await expect(ingestItems(ctx.db, 'cat', [[{ item: 'ok' }, { item: 'x', tags: ['a\u0000'] }]])).rejects.toThrow(/item #2: tag "a\\u0000" contains a NUL character/);
    expect(await counts(ctx.db.db)).toEqual(before);
  });

  it('recordEvents checks every event the same way and names its index and field, recording nothing', async () => {
    await ingestItems(ctx.db, 'live', [[{ item: 'ball' }]]);
    const before = await counts(ctx.db.db);
    const ok: RecordedEvent = { domain: 'live', user: 'r1', item: 'ball', weight: 1, kind: 'click', time: new Date() };
    const bad: Array<[Partial<RecordedEvent>, RegExp]> = [
      [{ user: 'r\u00002' }, /^event #2: user id "r\\u00002" contains a NUL character/],
      [{ item: 'ba\u0000ll' }, /^event #2: item id "ba\\u0000ll" contains a NUL character/],
      [{ user: 'z'.repeat(501) }, /^event #2: user id .* is 501 characters long, more than the 500 allowed/],
      [{ domain: 'li\u0000ve' }, /^event #2: domain name "li\\u0000ve" is not allowed/],
      [{ weight: -5 }, /^event #2: weight -5 is not positive/],
      [{ weight: 0 }, /^event #2: weight 0 is not positive/],
      [{ weight: 1e308 }, /^event #2: weight 1e\+308 is outside/],
      [{ time: new Date('9999-01-01T00:00:00Z') }, /^event #2: time 9999-01-01T00:00:00\.000Z is more than a day in the future/],
      // Unix milliseconds taken for seconds (x 1000): the message gives the time a thousand times smaller.
      [{ time: new Date(Date.UTC(2025, 0, 1) * 1000) }, /^event #2: time .* is more than a day in the future .*a thousand times smaller it is 2025-01-01T00:00:00\.000Z/],
      [{ time: new Date(-1) }, /^event #2: time 1969-12-31T23:59:59\.999Z is before 1970-01-01/],
    ];
    for (const [change, message] of bad) {
      const error = await rejection(recordEvents(ctx.db.db, [ok, { ...ok, user: 'r2', ...change }]));
      expect(error.message).toMatch(message);
      expect(error.message).toMatch(/nothing was recorded$/);
    }
    expect(await counts(ctx.db.db)).toEqual(before);
    const allowed = await recordEvents(ctx.db.db, [{ ...ok, weight: 0 }, { ...ok, weight: -1 }], { allowNonPositiveWeights: true });
    expect(allowed.recorded).toBe(2);
  });

  it('graft import exits 1 with FILE:LINE for a NUL byte and a 10 MB field (it was a raw Postgres error, exit 70)', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, GRAFT_LOG_LEVEL: 'silent' };
    if (ctx.db.url) env.DATABASE_URL = ctx.db.url;
    else {
      delete env.DATABASE_URL;
      env.GRAFT_DATA_DIR = mkdtempSync(join(dir, 'data-'));
    }
    for (const [name, content, message] of [
      ['nul', line3('u\u00003'), /:3: user id "u\\u00003" contains a NUL character/],
      ['huge', line3('x'.repeat(10 << 20)), /:3: the line is longer than 1,048,576 bytes/],
    ] as const) {
      const path = file(`cli-${name}-${ctx.kind}.tsv`, content);
      const result = await run(process.execPath, [CLI, 'import', path, '--domain', 'cli', '--no-header'], { env }).then(
        () => ({ code: 0, stderr: '' }),
        (e: { code: number; stderr: string }) => e,
      );
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(message);
      expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
    }
  }, 120_000);
});
