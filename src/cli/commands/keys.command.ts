import type { Command } from 'commander';
import { createApiKey, listApiKeys, parseRole, revokeApiKey } from '../../auth/index.js';
import { note, withDatabase } from '../with-database.js';

/** `graft keys create|list|revoke`: API keys for the (upcoming) GraphQL API. */
export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('API keys: create (shown once, only a hash is stored), list, revoke');
  keys
    .command('create')
    .description('create a key and print it once')
    .requiredOption('--role <role>', 'APP, ANALYST or ADMIN', parseRole)
    .requiredOption('--name <name>', 'who uses the key, e.g. "shop frontend"')
    .action(async (o: { role: 'APP' | 'ANALYST' | 'ADMIN'; name: string }) => {
      await withDatabase(async (gdb) => {
        const { key, record } = await createApiKey(gdb.db, o);
        note(`created ${record.role} key #${record.id} "${record.name}"; it is shown only now:`);
        process.stdout.write(`${key}\n`);
      });
    });
  keys
    .command('list')
    .description('list keys (prefix, role, name, last use; never the secret)')
    .action(async () => {
      await withDatabase(async (gdb) => {
        for (const k of await listApiKeys(gdb.db)) {
          const state = k.revokedAt ? `revoked ${k.revokedAt.toISOString()}` : `last used ${k.lastUsedAt?.toISOString() ?? 'never'}`;
          process.stdout.write(`#${k.id}  graft_${k.prefix}_…  ${k.role.padEnd(7)} ${k.name}  (${state})\n`);
        }
      });
    });
  keys
    .command('revoke')
    .description('revoke a key by id or prefix')
    .argument('<key>', 'key id (#) or prefix')
    .action(async (idOrPrefix: string) => {
      await withDatabase(async (gdb) => {
        const k = await revokeApiKey(gdb.db, idOrPrefix.replace(/^#/, ''));
        note(`revoked key #${k.id} "${k.name}"`);
      });
    });
}
