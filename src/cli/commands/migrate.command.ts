import type { Command } from 'commander';
import { migrateDown, migrateToLatest } from '../../db/migrate.js';
import { note, withDatabase } from '../with-database.js';

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('bring the database schema up to date (or revert the newest migration with --down)')
    .option('--down', 'revert the newest applied migration')
    .action(async (options: { down?: boolean }) => {
      await withDatabase(
        async (gdb) => {
          const names = options.down ? await migrateDown(gdb.db) : await migrateToLatest(gdb.db);
          const verb = options.down ? 'reverted' : 'applied';
          note(names.length ? `${verb} ${names.join(', ')} on ${gdb.location}` : `nothing to do on ${gdb.location}: schema is current`);
        },
        { migrate: false },
      );
    });
}
