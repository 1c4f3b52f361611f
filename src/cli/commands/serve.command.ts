import type { Command } from 'commander';
import type { GraftDatabase } from '../../db/connect.js';
import { nonNegativeInt, positiveInt } from '../options.js';
import { withDatabase } from '../with-database.js';

/** `graft serve`: the GraphQL server on the configured database, until SIGINT/SIGTERM. */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve the GraphQL API at /graphql (GraphiQL in a browser), the embedding explorer at /explorer, /healthz and /metrics')
    .option('--port <n>', 'HTTP port (default: PORT or 4000)', positiveInt('port'))
    .option('--cache-ttl <seconds>', "reuse a user's history and rankings this long; recorded events invalidate them at once; 0 = off (default: GRAFT_CACHE_TTL_MS or 60 s)", nonNegativeInt('cache-ttl'))
    .action(async (o: { port?: number; cacheTtl?: number }) => {
      await withDatabase((gdb) => serveUntilSignal(gdb, { port: o.port, cacheTtlMs: o.cacheTtl === undefined ? undefined : o.cacheTtl * 1000, onListening: (url) => process.stderr.write(`GraphQL: ${url}\nembedding explorer: ${url.replace(/\/graphql$/, '/explorer')}\n`) }));
    });
}

/** Serves until the process is asked to stop, then drains connections and returns. */
export async function serveUntilSignal(gdb: GraftDatabase, options: { port?: number; cacheTtlMs?: number; onListening?: (url: string) => void }): Promise<void> {
  // Loaded on demand: the GraphQL stack is the heaviest import, and other commands (`graft worker`) start faster without it.
  const { startGraftServer } = await import('../../graphql/server/http-server.js');
  const server = await startGraftServer({ gdb, port: options.port, cacheTtlMs: options.cacheTtlMs });
  options.onListening?.(server.url);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.close();
}
