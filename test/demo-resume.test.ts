import { expect, it } from 'vitest';
import { DEMO_SEED, demoState, runDemo } from '../src/cli/demo.js';
import { seedSynthetic } from '../seeds/seed-database.js';
import { describeEachStorage } from './support/databases.js';

/** A small demo: a few seconds per step. */
const SMALL = { users: 200, epochs: 1, quiet: true };

/** `graft start`'s demo set-up, cut short at each step and started again: it finishes from where it stopped. */
describeEachStorage('the demo set-up, resumed', (ctx) => {
  const models = async () =>
    ctx.db.db
      .selectFrom('models')
      .innerJoin('domains', 'domains.id', 'models.domain_id')
      .select(['models.id', 'models.kind', 'models.parent_model_id', 'domains.name'])
      .orderBy('models.created_at')
      .execute();
  const activeModel = async (domain: string) => (await ctx.db.db.selectFrom('domains').select('active_model_id').where('name', '=', domain).executeTakeFirstOrThrow()).active_model_id;

  it('an empty database is set up from the start; one holding other domains is left alone', async () => {
    expect(await demoState(ctx.db)).toBe('empty');
    await seedSynthetic(ctx.db, { users: 50, seed: 1, sourceName: 'shop', targetName: 'books' });
    expect(await demoState(ctx.db)).toBe('other');
    await ctx.db.db.deleteFrom('domains').execute();
    expect(await demoState(ctx.db)).toBe('empty');
  });

  it('cut while seeding (the target without its events): seeds again, then trains, transfers and creates the key', async () => {
    await seedSynthetic(ctx.db, { users: SMALL.users, seed: DEMO_SEED.seed, sourceName: DEMO_SEED.sourceName, targetName: DEMO_SEED.targetName });
    const target = await ctx.db.db.selectFrom('domains').select('id').where('name', '=', DEMO_SEED.targetName).executeTakeFirstOrThrow();
    await ctx.db.db.deleteFrom('events').where('domain_id', '=', target.id).execute();
    expect(await demoState(ctx.db)).toBe('unfinished');

    const demo = await runDemo(ctx.db, SMALL);
    expect((await models()).map((m) => `${m.name} ${m.kind}`)).toEqual([`${DEMO_SEED.sourceName} PRETRAIN`, `${DEMO_SEED.targetName} TRANSFER`]);
    expect(await activeModel(DEMO_SEED.sourceName)).toBe(demo.sourceModelId);
    expect(await activeModel(DEMO_SEED.targetName)).toBe(demo.activated ? demo.targetModelId : null);
    const targetEvents = await ctx.db.db.selectFrom('events').select((eb) => eb.fn.countAll<number>().as('n')).where('domain_id', '=', target.id).executeTakeFirstOrThrow();
    expect(Number(targetEvents.n)).toBeGreaterThan(0);
    expect(await demoState(ctx.db)).toBe('other'); // the key is there: a later start serves as it is
  });

  it('cut before the key: keeps both models and only creates the key', async () => {
    const before = await models();
    const transferId = before.find((m) => m.kind === 'TRANSFER')!.id;
    await ctx.db.db.deleteFrom('api_keys').execute();
    expect(await demoState(ctx.db)).toBe('unfinished');

    const demo = await runDemo(ctx.db, SMALL);
    expect(await models()).toEqual(before);
    expect(demo.targetModelId).toBe(transferId);
    expect(demo.sourceModelId).toBe(before[0]!.id);
    expect(demo.adminKey).toMatch(/^graft_/);
    const keys = await ctx.db.db.selectFrom('api_keys').select(['name', 'role']).execute();
    expect(keys).toEqual([{ name: 'demo-admin', role: 'ADMIN' }]);
  });

  it('cut while transferring: keeps the source model and transfers from it', async () => {
    const source = (await models()).find((m) => m.kind === 'PRETRAIN')!;
    const target = await ctx.db.db.selectFrom('domains').select('id').where('name', '=', DEMO_SEED.targetName).executeTakeFirstOrThrow();
    await ctx.db.db.deleteFrom('models').where('domain_id', '=', target.id).execute();
    await ctx.db.db.deleteFrom('api_keys').execute();
    expect(await demoState(ctx.db)).toBe('unfinished');

    const demo = await runDemo(ctx.db, SMALL);
    const after = await models();
    expect(after.filter((m) => m.kind === 'PRETRAIN')).toEqual([source]);
    const transfer = after.find((m) => m.kind === 'TRANSFER')!;
    expect(transfer).toMatchObject({ id: demo.targetModelId, parent_model_id: source.id, name: DEMO_SEED.targetName });
    expect(demo.sourceModelId).toBe(source.id);
  });
});
