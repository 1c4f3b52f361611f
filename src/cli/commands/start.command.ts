import type { Command } from 'commander';
import { connect } from '../../db/connect.js';
import { migrateToLatest, withSchemaLock } from '../../db/migrate.js';
import { positiveInt } from '../options.js';
import { note } from '../with-database.js';
import { serveUntilSignal } from './serve.command.js';

export { DEMO_SEED } from '../demo.js';

/**
 * `graft start` (what `npm start` runs): bring the schema up to date; on an empty database
 * run the whole demo (seed, pretrain, transfer, activate, admin key), and finish it where an
 * earlier start was stopped part way (`demoState`); then serve GraphQL.
 */
export function registerStart(program: Command): void {
  program
    .command('start')
    .description('migrate; on an empty database seed, pretrain, transfer and activate the demo and print an admin key (finishing a set-up an earlier start left part way); then serve GraphQL')
    .option('--port <n>', 'HTTP port (default: PORT or 4000)', positiveInt('port'))
    .option('--no-serve', 'stop after the demo set-up instead of serving')
    .option('--no-graphiql', 'leave GraphiQL and introspection off, as `graft serve` does (the demo turns them on)')
    .action(async (o: { port?: number; serve: boolean; graphiql: boolean }) => {
      const gdb = await connect();
      try {
        await withSchemaLock(gdb, () => migrateToLatest(gdb.db));
        note(`database: ${gdb.location} (schema up to date)`);
        const { demoState, runDemo } = await import('../demo.js');
        let adminKey: string | undefined;
        if ((await demoState(gdb)) !== 'other') {
          const demo = await runDemo(gdb);
          adminKey = demo.adminKey;
        } else {
          const domains = await gdb.db.selectFrom('domains').select('name').orderBy('name').execute();
          note(`domains: ${domains.map((d) => d.name).join(', ')} (not empty: no demo set-up; create keys with \`graft keys create --role ADMIN --name me\`)`);
        }
        if (!o.serve) {
          if (adminKey) printKey(adminKey, undefined);
          return;
        }
        // The demo is for trying the API in a browser: GraphiQL (with introspection) on. `graft serve`
        // leaves both off, its production default.
        await serveUntilSignal(gdb, { port: o.port, graphiql: o.graphiql ? true : undefined, onListening: (url) => printKey(adminKey, url, o.graphiql) });
      } finally {
        await gdb.close();
      }
    });
}

function printKey(adminKey: string | undefined, url: string | undefined, graphiql = false): void {
  const browser = graphiql ? 'open it in a browser for GraphiQL' : 'GraphiQL off: `graft start` without --no-graphiql, or `graft serve --graphiql`';
  if (url) note(`\nGraphQL: ${url}  (${browser}; /healthz, /metrics with an ANALYST or ADMIN key)`);
  if (url) note(`embedding explorer: ${url.replace(/\/graphql$/, '/explorer')}  (in a browser, with an ANALYST or ADMIN key)`);
  if (!adminKey) return;
  note(`\nadmin API key (shown once; store it now):\n  ${adminKey}\n`);
  const endpoint = url ?? 'http://localhost:4000/graphql';
  note('try it:');
  note(
    `  curl -s ${endpoint} -H 'content-type: application/json' -H 'authorization: Bearer ${adminKey}' \\\n` +
      `    -d '{"query":"{ recommendations(userId: \\"u1\\", domain: \\"target\\", first: 5) { tier modelVersion edges { node { rank score item { id title tags } reason { tier becauseOf { id } } } } } }"}'`,
  );
}
