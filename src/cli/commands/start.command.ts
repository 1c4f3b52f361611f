import type { Command } from 'commander';
import { seedSynthetic } from '../../../seeds/seed-database.js';
import { note, withDatabase } from '../with-database.js';

/** Size of the demo that `npm start` seeds into an empty database. */
export const DEMO_SEED = { users: 1000, seed: 42, sourceName: 'source', targetName: 'target' } as const;

/**
 * `graft start` (what `npm start` runs): bring the schema up to date, seed the demo domains
 * when the database is empty, and say what is there and what to do next.
 */
export function registerStart(program: Command): void {
  program
    .command('start')
    .description('migrate, seed the demo domains when the database is empty, and show what to do next')
    .action(async () => {
      await withDatabase(async (gdb) => {
        note(`database: ${gdb.location} (schema up to date)`);
        const domains = await gdb.db.selectFrom('domains').select('name').orderBy('name').execute();
        if (domains.length === 0) {
          note(`empty database: seeding the synthetic demo (${DEMO_SEED.users} users, seed ${DEMO_SEED.seed})...`);
          const summary = await seedSynthetic(gdb, DEMO_SEED);
          for (const d of summary.domains) {
            note(`  ${d.role} domain "${d.name}": ${d.items.toLocaleString('en-US')} items, ${d.events.toLocaleString('en-US')} events, ${d.usersWithEvents.toLocaleString('en-US')} users with events`);
          }
          note(`  ${summary.coldStartUsers} users have source history only (cold-start in the target)`);
        } else {
          note(`domains: ${domains.map((d) => d.name).join(', ')}`);
        }
        const models = await gdb.db.selectFrom('models').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
        note(`models registered: ${Number(models.n)}`);
        note('');
        note('next steps (the GraphQL server is not part of this release yet):');
        note('  npx graft train --domain source            # pretrain on the source domain, prints the model id');
        note('  npx graft eval --model MODEL_ID            # HR@10 / NDCG@10 next to popularity, per stratum');
        note('  npx graft transfer --from MODEL_ID --to target --strategy partial   # graft onto the sparse target, vs a same-budget baseline');
        note('  npx graft models                           # the registry');
        note('  npx graft import FILE --domain NAME        # your own behaviour log (see README)');
      });
    });
}
