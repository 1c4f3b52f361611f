import { expect, it } from 'vitest';
import { readDataset } from '../src/dataset/read-dataset.js';
import { seedSynthetic } from '../seeds/seed-database.js';
import { describeEachStorage } from './support/databases.js';

const small = { users: 120, sourceItems: 80, targetItems: 40, seed: 3 };

describeEachStorage('seedSynthetic', (ctx) => {
  it('writes both domains, readable back with shared users and tags', async () => {
    const summary = await seedSynthetic(ctx.db, small);
    expect(summary.users).toBe(120);
    expect(summary.coldStartUsers).toBe(24);
    const [source, target] = summary.domains;
    const sourceDs = await readDataset(ctx.db, 'source');
    const targetDs = await readDataset(ctx.db, 'target');
    expect(sourceDs.interactions.users.length).toBe(source.events);
    expect(targetDs.interactions.users.length).toBe(target.events);
    expect(sourceDs.items.size).toBe(80);
    expect(targetDs.items.size).toBe(40);
    expect(sourceDs.users.size).toBe(120);
    expect(targetDs.users.size).toBe(120 - 24);
    expect(target.usersWithEvents).toBe(96);
    // Same person, same database row in both domains.
    for (let u = 0; u < targetDs.users.size; u++) {
      const s = sourceDs.users.index.get(targetDs.users.ids[u])!;
      expect(sourceDs.users.dbIds[s]).toBe(targetDs.users.dbIds[u]);
    }
    expect(targetDs.itemTokens.tokens.length).toBeGreaterThan(40);
    // The generated log comes back in the same order.
    expect(Array.from(sourceDs.interactions.times)).toEqual(Array.from(summary.world.source.log.times));
  });

  it('refuses to seed over existing events, and replaces them with force', async () => {
    await expect(seedSynthetic(ctx.db, small)).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringContaining('--force') });
    const again = await seedSynthetic(ctx.db, { ...small, users: 50, force: true });
    const ds = await readDataset(ctx.db, 'source');
    expect(ds.interactions.users.length).toBe(again.domains[0].events);
    expect(ds.users.size).toBe(50);
  });

  it('rejects equal source and target names', async () => {
    await expect(seedSynthetic(ctx.db, { ...small, sourceName: 'x', targetName: 'x' })).rejects.toMatchObject({ code: 'BAD_INPUT' });
  });
});
