import cluster from 'node:cluster';
import type { Command } from 'commander';
import type { GraftDatabase } from '../../db/connect.js';
import { GraftError } from '../../errors.js';
import { EXPOSURE_SETTINGS, type ExposureSettings, type MetricsAccess } from '../../graphql/server/exposure-settings.js';
import { nonNegativeInt, positiveInt } from '../options.js';
import { withDatabase } from '../with-database.js';

/** `graft serve`: the GraphQL server on the configured database, until SIGINT/SIGTERM. */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve the GraphQL API at /graphql (GraphiQL in a browser), the embedding explorer at /explorer, /healthz and /metrics')
    .option('--port <n>', 'HTTP port (default: PORT or 4000)', positiveInt('port'))
    .option('--cache-ttl <seconds>', "reuse a user's history and rankings this long; recorded events invalidate them at once; 0 = off (default: GRAFT_CACHE_TTL_MS or 60 s)", nonNegativeInt('cache-ttl'))
    .option(
      '--precompute-users <n>',
      "per domain, precompute this many of the most recently active users' first page when a model loads (~3 KB each); 0 = off (default: GRAFT_PRECOMPUTE_USERS or 50000)",
      nonNegativeInt('precompute-users'),
    )
    .option('--workers <n>', 'server processes sharing the port (Postgres only; e.g. one per core); default 1', positiveInt('workers'))
    .option('--graphiql', 'serve GraphiQL at /graphql in a browser, with introspection (default: GRAFT_GRAPHIQL, else off)')
    .option('--introspection', 'answer schema introspection (default: GRAFT_INTROSPECTION, else off)')
    .option('--metrics <access>', 'who may read /metrics: key (an ANALYST or ADMIN key), open, off (default: GRAFT_METRICS, else key)', metricsAccess)
    .action(async (o: { port?: number; cacheTtl?: number; precomputeUsers?: number; workers?: number } & ExposureFlags) => {
      if ((o.workers ?? 1) > 1 && cluster.isPrimary) {
        if (!process.env.DATABASE_URL) {
          throw new GraftError('BAD_INPUT', `--workers ${o.workers} needs Postgres: the embedded database (PGlite) is open in one process only; set DATABASE_URL, or leave --workers out`);
        }
        await withDatabase(async () => undefined); // migrate once, before the workers start
        const { runClusterPrimary } = await import('../../graphql/server/cluster.js');
        process.stderr.write(`starting ${o.workers} server processes on port ${o.port ?? process.env.PORT ?? 4000}\n`);
        await runClusterPrimary(o.workers!, (m) => process.stderr.write(`${m}\n`));
        return;
      }
      await withDatabase((gdb) =>
        serveUntilSignal(gdb, {
          port: o.port,
          cacheTtlMs: o.cacheTtl === undefined ? undefined : o.cacheTtl * 1000,
          precomputeUsers: o.precomputeUsers,
          ...exposureOf(o),
          onListening: (url) => process.stderr.write(`GraphQL: ${url}\nembedding explorer: ${url.replace(/\/graphql$/, '/explorer')}\n`),
        }),
      );
      // A cluster worker's IPC channel to the primary keeps it alive: it is done once drained and closed.
      if (cluster.isWorker) process.exit(0);
    });
}

/** Serves until the process is asked to stop, then drains connections and returns. */
export async function serveUntilSignal(
  gdb: GraftDatabase,
  options: { port?: number; cacheTtlMs?: number; precomputeUsers?: number; onListening?: (url: string) => void } & Partial<ExposureSettings>,
): Promise<void> {
  // Listening for the signals before starting: a stop asked for during start-up waits for it, then stops.
  const stopRequested = new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  // graphql-js reads NODE_ENV once, when first imported: unless told otherwise, run it in production
  // mode (without it every failed type check of the executor inspects class names: ~6% of a
  // cached recommendation's CPU). Apollo's defaults that follow NODE_ENV are all set explicitly.
  process.env.NODE_ENV ??= 'production';
  // Loaded on demand: the GraphQL stack is the heaviest import, and other commands (`graft worker`) start faster without it.
  const { startGraftServer } = await import('../../graphql/server/http-server.js');
  const server = await startGraftServer({
    gdb,
    port: options.port,
    cacheTtlMs: options.cacheTtlMs,
    precomputeUsers: options.precomputeUsers,
    graphiql: options.graphiql,
    introspection: options.introspection,
    metrics: options.metrics,
  });
  options.onListening?.(server.url);
  await stopRequested;
  await server.close();
}

/** The exposure flags of `graft serve` (absent flags leave the environment and the defaults to decide). */
interface ExposureFlags {
  graphiql?: boolean;
  introspection?: boolean;
  metrics?: MetricsAccess;
}

function exposureOf(o: ExposureFlags): Partial<ExposureSettings> {
  return { graphiql: o.graphiql || undefined, introspection: o.introspection || undefined, metrics: o.metrics };
}

function metricsAccess(raw: string): MetricsAccess {
  const value = EXPOSURE_SETTINGS.metrics.parse(raw);
  if (value === undefined) throw new GraftError('BAD_INPUT', `--metrics ${raw} is not valid; use ${EXPOSURE_SETTINGS.metrics.accepted}`);
  return value;
}
