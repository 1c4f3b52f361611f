import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Db } from '../src/db/database.js';
import { GraftError } from '../src/errors.js';
import { shouldRebuildIndexes } from '../src/logs/event-indexes.js';
import { importEventsFile, importItemsFile, ingestEvents, ingestItems, type EventRecord } from '../src/logs/index.js';
import { describeEachStorage } from './support/databases.js';
import { importCounts, writeImportFile } from './support/import-files.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'graft-import-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const file = (name: string, content: string | Buffer) => writeImportFile(dir, name, content);
const counts = importCounts;

/** Events of a domain as (user, item, weight, ms, kind), ordered by time then id. */
async function eventsOf(db: Db, domain: string) {
  const { rows } = await sql<{ user: string; item: string; weight: number; ms: number; kind: string }>`
    select u.external_id as "user", i.external_id as item, e.weight,
           (extract(epoch from e.occurred_at) * 1000)::float8 as ms, e.kind
    from events e join users u on u.id = e.user_id join items i on i.id = e.item_id
    join domains d on d.id = e.domain_id
    where d.name = ${domain} order by e.occurred_at, e.id`.execute(db);
  return rows;
}

async function expectBadInput(promise: Promise<unknown>, message: RegExp): Promise<GraftError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GraftError);
  expect((error as GraftError).code).toBe('BAD_INPUT');
  expect((error as GraftError).message).toMatch(message);
  return error as GraftError;
}

describeEachStorage('import', (ctx) => {
  it('imports two domains that share users, with weights, times and kinds', async () => {
    const sport = file(
      `sport-${ctx.kind}.tsv`,
      ['u1\tball\t1\t2024-03-01T10:00:00.123Z', 'u2\tball\t0.5\t1709287201', 'u1\tnet\t2\t1709287202500', ''].join('\n'),
    );
    const cloth = file(`cloth-${ctx.kind}.tsv`, 'user\titem\tkind\nu1\tshirt\tpurchase\r\nu3\tsock\tclick\r\n');
    const s = await importEventsFile(ctx.db, sport, { domain: 'sport', header: false });
    expect(s).toMatchObject({ domain: 'sport', rows: 3, usersCreated: 2, itemsCreated: 2, skipped: false });
    expect(s.importId).toBeTypeOf('number');
    const c = await importEventsFile(ctx.db, cloth, { domain: 'cloth' });
    // u1 already exists: users are global; items belong to their domain.
    expect(c).toMatchObject({ rows: 2, usersCreated: 1, itemsCreated: 2 });

    expect(await counts(ctx.db.db)).toEqual({ users: 3, items: 4, events: 5, imports: 2, domains: 2 });
    expect(await eventsOf(ctx.db.db, 'sport')).toEqual([
      { user: 'u1', item: 'ball', weight: 1, ms: Date.UTC(2024, 2, 1, 10, 0, 0, 123), kind: 'view' },
      { user: 'u2', item: 'ball', weight: 0.5, ms: 1709287201000, kind: 'view' },
      { user: 'u1', item: 'net', weight: 2, ms: 1709287202500, kind: 'view' },
    ]);
    const clothEvents = await eventsOf(ctx.db.db, 'cloth');
    expect(clothEvents.map((e) => [e.user, e.item, e.weight, e.kind])).toEqual([
      ['u1', 'shirt', 1, 'purchase'],
      ['u3', 'sock', 1, 'click'],
    ]);
    // No time column: synthetic times keep line order.
    expect(clothEvents[1]!.ms - clothEvents[0]!.ms).toBe(1);
  });

  it('skips a second import of the same file and adds nothing', async () => {
    const path = file(`again-${ctx.kind}.tsv`, 'u1\tball\t1\nu9\tbat\t1\n');
    const first = await importEventsFile(ctx.db, path, { domain: 'again', header: false, columns: ['user', 'item', 'weight'] });
    const before = await counts(ctx.db.db);
    const second = await importEventsFile(ctx.db, path, { domain: 'again', header: false, columns: ['user', 'item', 'weight'] });
    expect(second).toMatchObject({ skipped: true, rows: 0, usersCreated: 0, itemsCreated: 0, importId: first.importId });
    expect(second.previous?.rows).toBe(2);
    expect(await counts(ctx.db.db)).toEqual(before);
    // The same file into another domain is a different import.
    const other = await importEventsFile(ctx.db, path, { domain: 'again2', header: false, columns: ['user', 'item', 'weight'] });
    expect(other).toMatchObject({ skipped: false, rows: 2, usersCreated: 0, itemsCreated: 2 });
  });

  const badFiles: Array<[string, string, Record<string, unknown>, RegExp]> = [
    ['missing column', 'u1\tball\t1\nu2\tball\t1\nu3\tball\n', { columns: ['user', 'item', 'weight'] }, /:3: 2 fields but --columns expect 3 .*--columns/],
    ['unknown kind', 'user,item,kind\nu1,ball,view\nu2,ball,like\n', { format: 'csv', header: true }, /:3: kind "like" is unknown; use one of view, click, purchase, rating/],
    ['non-numeric weight', 'u1\tball\t1\nu2\tball\t1\nu3\tball\tabc\n', { columns: ['user', 'item', 'weight'] }, /:3: weight "abc" is not a number; use a decimal such as 1 or 0.5/],
    ['bad timestamp', 'u1\tball\t1\t2024-01-01\nu2\tball\t1\t2024-01-02\nu3\tball\t1\t2024-02-30\n', {}, /:3: time "2024-02-30" is not ISO 8601 or unix/],
    ['empty user id', 'u1\tball\t1\nu2\tball\t1\n\tball\t1\n', { columns: ['user', 'item', 'weight'] }, /:3: user id "" is empty/],
    ['empty item id', 'u1\tball\t1\nu2\tball\t1\nu3\t\t1\n', { columns: ['user', 'item', 'weight'] }, /:3: item id "" is empty/],
    ['unclosed csv quote', 'u1,ball\nu2,ball\nu3,"ball\n', { format: 'csv', columns: ['user', 'item'] }, /:3: a quoted field is never closed/],
    ['invalid json', '{"user":"u1","item":"ball"}\n{"user":"u2","item":"ball"}\n{"user":"u3",\n', { format: 'jsonl' }, /:3: not valid JSON/],
    ['json line without user', '{"user":"u1","item":"ball"}\n{"user":"u2","item":"ball"}\n{"item":"bat"}\n', { format: 'jsonl' }, /:3: user id is missing/],
  ];
  for (const [what, text, options, message] of badFiles) {
    it(`rejects a file with ${what} and leaves the database unchanged`, async () => {
      const before = await counts(ctx.db.db);
      const path = file(`bad-${what.replace(/\W/g, '-')}-${ctx.kind}.txt`, text);
      // batchSize 1: earlier lines are already written when line 3 fails, so this tests the rollback.
      const error = await expectBadInput(
        importEventsFile(ctx.db, path, { domain: 'brandnew', header: false, batchSize: 1, ...options }),
        message,
      );
      expect(error.message.startsWith(`${path}:3: `)).toBe(true);
      expect(await counts(ctx.db.db)).toEqual(before);
    });
  }

  it('rolls back an ingestEvents call whose records go bad after some batches', async () => {
    const before = await counts(ctx.db.db);
    function* batches(): Generator<EventRecord[]> {
      yield [{ user: 'lib1', item: 'x', weight: 1, time: new Date(0), kind: 'view' }];
      yield [{ user: 'lib2', item: 'y', weight: Number.NaN, time: new Date(0), kind: 'view' }];
    }
    await expectBadInput(ingestEvents(ctx.db, 'lib', batches(), { batchSize: 1 }), /event #2: weight NaN is not a finite number/);
    expect(await counts(ctx.db.db)).toEqual(before);
  });

  it('reads csv with quoted fields and a header in any column order', async () => {
    const path = file(
      `quoted-${ctx.kind}.csv`,
      'time,item,user,weight\n2024-01-01T00:00:00Z,"ball, size 5","user ""x""",3\n2024-01-02T00:00:00Z,"multi\nline",plain,1\n',
    );
    const s = await importEventsFile(ctx.db, path, { domain: 'quoted' });
    expect(s.rows).toBe(2);
    expect(await eventsOf(ctx.db.db, 'quoted')).toEqual([
      { user: 'user "x"', item: 'ball, size 5', weight: 3, ms: Date.UTC(2024, 0, 1), kind: 'view' },
      { user: 'plain', item: 'multi\nline', weight: 1, ms: Date.UTC(2024, 0, 2), kind: 'view' },
    ]);
  });

  it('reads jsonl with numeric ids and a default kind', async () => {
    const path = file(
      `events-${ctx.kind}.jsonl`,
      '{"user": 7, "item": "a", "rating": 4, "timestamp": 1700000000}\n\n{"user_id": "7", "item_id": "b", "kind": "rating"}\n',
    );
    const s = await importEventsFile(ctx.db, path, { domain: 'json', kind: 'purchase' });
    expect(s.rows).toBe(2);
    const events = await eventsOf(ctx.db.db, 'json');
    expect(events[0]).toEqual({ user: '7', item: 'a', weight: 4, ms: 1700000000000, kind: 'purchase' });
    expect(events[1]).toMatchObject({ user: '7', item: 'b', weight: 1, kind: 'rating' });
  });

  it('imports items with tags and features, updating only the given fields', async () => {
    const csv = file(`items-${ctx.kind}.csv`, 'item,title,tags\nball,"Ball, size 5",outdoor|football; team\nnet,,\n');
    const first = await importItemsFile(ctx.db, csv, { domain: 'catalog' });
    expect(first).toMatchObject({ rows: 2, itemsCreated: 2, usersCreated: 0, skipped: false });
    const jsonl = file(
      `items-${ctx.kind}.jsonl`,
      '{"item": "ball", "features": {"price": 9.5}}\n{"item": "bat", "title": "Bat", "tags": ["wood"]}\n',
    );
    const second = await importItemsFile(ctx.db, jsonl, { domain: 'catalog' });
    expect(second).toMatchObject({ rows: 2, itemsCreated: 1 });
    expect((await importItemsFile(ctx.db, jsonl, { domain: 'catalog' })).skipped).toBe(true);

    const items = await ctx.db.db
      .selectFrom('items')
      .innerJoin('domains', 'domains.id', 'items.domain_id')
      .select(['items.external_id', 'items.title', 'items.tags', 'items.features'])
      .where('domains.name', '=', 'catalog')
      .orderBy('items.external_id')
      .execute();
    expect(items).toEqual([
      { external_id: 'ball', title: 'Ball, size 5', tags: ['outdoor', 'football', 'team'], features: { price: 9.5 } },
      { external_id: 'bat', title: 'Bat', tags: ['wood'], features: {} },
      { external_id: 'net', title: null, tags: [], features: {} },
    ]);
    // Events for catalogued items reuse them.
    const s = await ingestEvents(ctx.db, 'catalog', [[{ user: 'u1', item: 'bat', weight: 1, time: new Date(0), kind: 'view' }]]);
    expect(s.itemsCreated).toBe(0);
  });

  it('ingestItems merges duplicates within a batch and rejects bad records unchanged', async () => {
    const s = await ingestItems(ctx.db, 'dups', [[{ item: 'a', title: 'first' }, { item: 'a', tags: ['t'] }]]);
    expect(s).toMatchObject({ rows: 2, itemsCreated: 1, importId: null });
    const row = await ctx.db.db
      .selectFrom('items')
      .innerJoin('domains', 'domains.id', 'items.domain_id')
      .select(['title', 'tags'])
      .where('domains.name', '=', 'dups')
      .where('external_id', '=', 'a')
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ title: 'first', tags: ['t'] });
    const before = await counts(ctx.db.db);
    await expectBadInput(ingestItems(ctx.db, 'dups', [[{ item: 'b' }, { item: '' }]]), /item #2/);
    expect(await counts(ctx.db.db)).toEqual(before);
  });

  it('drops and rebuilds the indexes of events for a bulk import, and restores them when it fails', async () => {
    const indexes = async () =>
      (await sql<{ def: string }>`select indexdef as def from pg_indexes where tablename = 'events' order by indexname`.execute(ctx.db.db)).rows;
    const before = await indexes();
    expect(before.length).toBe(2);
    const good = file(`bulk-${ctx.kind}.tsv`, 'b1\tx\t1\t1700000000\nb2\ty\t1\t1700000001\n');
    const s = await importEventsFile(ctx.db, good, { domain: 'bulk', header: false, rebuildIndexes: 'always' });
    expect(s.rows).toBe(2);
    expect(await indexes()).toEqual(before);
    const countsBefore = await counts(ctx.db.db);
    const bad = file(`bulk-bad-${ctx.kind}.tsv`, 'b1\tx\t1\t1700000000\nb2\ty\tone\t1700000001\n');
    await expectBadInput(importEventsFile(ctx.db, bad, { domain: 'bulk', header: false, rebuildIndexes: 'always', batchSize: 1 }), /:2: weight "one"/);
    expect(await indexes()).toEqual(before);
    expect(await counts(ctx.db.db)).toEqual(countsBefore);
  });

  it('rebuilds indexes automatically only for imports at least as large as the table', async () => {
    const existing = (await counts(ctx.db.db)).events;
    expect(await shouldRebuildIndexes(ctx.db.db, 'auto', 1000)).toBe(false); // too small to pay off
    expect(await shouldRebuildIndexes(ctx.db.db, 'auto', undefined)).toBe(false);
    expect(await shouldRebuildIndexes(ctx.db.db, 'auto', Math.max(existing, 100_000))).toBe(true);
    expect(await shouldRebuildIndexes(ctx.db.db, 'never', 10_000_000)).toBe(false);
    expect(await shouldRebuildIndexes(ctx.db.db, 'always', 1)).toBe(true);
  });

  it('regroups many small batches into large inserts', async () => {
    const batches = Array.from({ length: 250 }, (_, i) => [
      { user: `m${i % 37}`, item: `i${i % 11}`, weight: 1, time: new Date(i * 1000), kind: 'click' as const },
    ]);
    const s = await ingestEvents(ctx.db, 'many', batches, { batchSize: 100 });
    expect(s).toMatchObject({ rows: 250, usersCreated: 37, itemsCreated: 11 });
    const events = await eventsOf(ctx.db.db, 'many');
    expect(events).toHaveLength(250);
    expect(events[249]).toMatchObject({ user: `m${249 % 37}`, item: `i${249 % 11}`, ms: 249_000, kind: 'click' });
  });
});
