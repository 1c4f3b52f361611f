import { expect, it } from 'vitest';
import { readDataset } from '../src/dataset/read-dataset.js';
import { ingestEvents, ingestItems, type EventRecord } from '../src/logs/index.js';
import { generateCrossDomain } from '../seeds/synthetic-domains.js';
import { describeEachStorage } from './support/databases.js';

const T0 = Date.parse('2024-03-01T00:00:00Z');

/** A hand-made log with ties in time (broken by id = insertion order) and sub-millisecond-free times. */
const handEvents: EventRecord[] = [
  { user: 'bob', item: 'b', weight: 1, time: new Date(T0 + 2000), kind: 'view' },
  { user: 'ann', item: 'a', weight: 2, time: new Date(T0 + 1000), kind: 'purchase' },
  { user: 'ann', item: 'c', weight: 1, time: new Date(T0 + 3000), kind: 'view' },
  { user: 'cid', item: 'a', weight: 0.5, time: new Date(T0 + 3000), kind: 'click' },
  { user: 'bob', item: 'a', weight: 1, time: new Date(T0 + 4000), kind: 'view' },
];

describeEachStorage('readDataset', (ctx) => {
  it('rejects an unknown domain with the fix in the message', async () => {
    await expect(readDataset(ctx.db, 'nowhere')).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringContaining('graft import FILE --domain nowhere'),
    });
  });

  it('reads a small log: time order, vocabularies both ways, histories, tags', async () => {
    await ingestItems(ctx.db, 'hand', [[{ item: 'a', tags: ['red', 'big'] }, { item: 'b', tags: [] }, { item: 'unseen', tags: ['blue'] }]]);
    await ingestEvents(ctx.db, 'hand', [handEvents]);
    const ds = await readDataset(ctx.db, 'hand', { pageSize: 2 });
    expect(ds.domain).toBe('hand');
    // Users in order of first appearance in (time, id) order.
    expect(ds.users.ids).toEqual(['ann', 'bob', 'cid']);
    // Items by database id: catalogue rows first (a, b, unseen), then c created by the events.
    expect(ds.items.ids).toEqual(['a', 'b', 'unseen', 'c']);
    for (const vocab of [ds.users, ds.items]) {
      expect(vocab.size).toBe(vocab.ids.length);
      vocab.ids.forEach((id, i) => expect(vocab.index.get(id)).toBe(i));
    }
    const userRows = await ctx.db.db.selectFrom('users').select(['id', 'external_id']).execute();
    const userDbId = new Map(userRows.map((r) => [r.external_id, r.id]));
    expect(Array.from(ds.users.dbIds)).toEqual(ds.users.ids.map((id) => userDbId.get(id)));

    const u = (id: string) => ds.users.index.get(id)!;
    const i = (id: string) => ds.items.index.get(id)!;
    expect(Array.from(ds.interactions.users)).toEqual([u('ann'), u('bob'), u('ann'), u('cid'), u('bob')]);
    expect(Array.from(ds.interactions.items)).toEqual([i('a'), i('b'), i('c'), i('a'), i('a')]);
    expect(Array.from(ds.interactions.weights)).toEqual([2, 1, 1, 0.5, 1]);
    expect(Array.from(ds.interactions.times)).toEqual([1000, 2000, 3000, 3000, 4000].map((d) => T0 + d));

    expect(Array.from(ds.histories.offsets)).toEqual([0, 2, 4, 5]);
    expect(Array.from(ds.histories.items)).toEqual([i('a'), i('c'), i('b'), i('a'), i('a')]);

    const tagsOf = (item: string) => ds.itemTokens.tokens.slice(ds.itemTokens.offsets[i(item)], ds.itemTokens.offsets[i(item) + 1]);
    expect(tagsOf('a')).toEqual(['red', 'big']);
    expect(tagsOf('unseen')).toEqual(['blue']);
    expect(tagsOf('c')).toEqual([]);
  });

  it('reads a domain with a catalogue but no events as an empty log', async () => {
    await ingestItems(ctx.db, 'catalogue-only', [[{ item: 'z', tags: ['t'] }]]);
    const ds = await readDataset(ctx.db, 'catalogue-only');
    expect(ds.interactions.users.length).toBe(0);
    expect(ds.users.size).toBe(0);
    expect(Array.from(ds.histories.offsets)).toEqual([0]);
    expect(ds.items.ids).toEqual(['z']);
  });

  it('stops before `until`', async () => {
    const ds = await readDataset(ctx.db, 'hand', { until: new Date(T0 + 3000) });
    expect(Array.from(ds.interactions.times)).toEqual([T0 + 1000, T0 + 2000]);
    expect(ds.users.ids).toEqual(['ann', 'bob']);
    expect(ds.histories.offsets.length).toBe(3);
  });

  it('reads the same dataset whatever the page size, matching the generated log', async () => {
    const world = generateCrossDomain({ users: 60, sourceItems: 40, targetItems: 20, seed: 5 });
    // Sub-millisecond times and equal times across pages stress the keyset resume.
    const events = world.source.events.map((e, k) => ({ ...e, time: new Date(Math.floor(k / 3) * 1000 + Date.parse('2024-01-01Z')) }));
    await ingestItems(ctx.db, world.source.name, [world.source.items]);
    await ingestEvents(ctx.db, world.source.name, [events]);
    const whole = await readDataset(ctx.db, world.source.name, { pageSize: 100_000 });
    expect(whole.interactions.users.length).toBe(world.source.eventCount);
    expect(whole.items.size).toBe(world.source.items.length);
    for (const pageSize of [3, 64]) {
      const paged = await readDataset(ctx.db, world.source.name, { pageSize });
      expect(paged.users.ids).toEqual(whole.users.ids);
      expect(paged.interactions).toEqual(whole.interactions);
      expect(paged.histories).toEqual(whole.histories);
    }
    // Same (user, item, time) sequence as generated: insertion order breaks the time ties.
    const read = Array.from(whole.interactions.users, (uu, k) => `${whole.users.ids[uu]}|${whole.items.ids[whole.interactions.items[k]]}|${whole.interactions.times[k]}`);
    expect(read).toEqual(events.map((e) => `${e.user}|${e.item}|${e.time.getTime()}`));
    // CSR histories against a naive per-user grouping.
    for (let uu = 0; uu < whole.users.size; uu++) {
      const naive = events.filter((e) => e.user === whole.users.ids[uu]).map((e) => whole.items.index.get(e.item));
      expect(Array.from(whole.histories.items.subarray(whole.histories.offsets[uu], whole.histories.offsets[uu + 1]))).toEqual(naive);
    }
  });

  it('keeps microsecond-precise times apart across page boundaries', async () => {
    // Two events 0.4 ms apart and one at the same microsecond with a higher id: none may be lost or repeated.
    const base = '2024-05-01T00:00:00';
    await ctx.db.db.insertInto('domains').values({ name: 'micro' }).execute();
    await ingestEvents(ctx.db, 'micro', [[{ user: 'x', item: 'p', weight: 1, time: new Date(`${base}Z`), kind: 'view' }]]);
    const ids = await ctx.db.db
      .selectFrom('events')
      .innerJoin('domains', 'domains.id', 'events.domain_id')
      .select(['events.user_id', 'events.item_id', 'events.domain_id'])
      .where('domains.name', '=', 'micro')
      .executeTakeFirstOrThrow();
    for (const at of ['.000100', '.000500', '.000500']) {
      await ctx.db.db
        .insertInto('events')
        .values({ user_id: ids.user_id, item_id: ids.item_id, domain_id: ids.domain_id, kind: 'view', weight: 1, occurred_at: `${base}${at}Z` })
        .execute();
    }
    const ds = await readDataset(ctx.db, 'micro', { pageSize: 1 });
    expect(Array.from(ds.interactions.times)).toEqual([0, 0.1, 0.5, 0.5].map((ms) => Date.parse(`${base}Z`) + ms));
  });
});
