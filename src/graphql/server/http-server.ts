import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GraphQLError, type GraphQLSchema } from 'graphql';
import pino, { type Logger } from 'pino';
import type { GraftDatabase } from '../../db/connect.js';
import type { Db } from '../../db/database.js';
import { Recommender } from '../../serving/index.js';
import type { GraftServices } from '../context.js';
import { HeavyGate } from '../limits/heavy-gate.js';
import { DEFAULT_HEAVY_COST, resolveLimits, type Caller, type OperationLimits } from '../limits/operation-limits.js';
import { buildGraftSchema } from '../schema.js';
import { startApolloHandler } from './apollo-handler.js';
import { Authenticator } from './authenticator.js';
import { clusterMetricsSource } from './cluster.js';
import { EXPLORER_PATH, explorerRoute, registerExplorerAssets } from './explorer-page.js';
import { resolveExposure, type MetricsAccess } from './exposure-settings.js';
import { MAX_BODY_BYTES, sendJson } from './http-response.js';
import { createRouter, type RouteHandler } from './http-router.js';
import { createServerMetrics } from './metrics.js';
import { startServerJobs } from './server-jobs.js';
import { readServerEnvironment } from './server-environment.js';
import { startWebSocketServer } from './websocket-server.js';

export type { RouteHandler } from './http-router.js';
export { DEFAULT_PRECOMPUTE_USERS } from './server-environment.js';

export interface GraftServerOptions {
  gdb: GraftDatabase;
  /** 0 picks a free port. Default: PORT or 4000. */
  port?: number;
  host?: string;
  logger?: Logger;
  recommender?: Recommender;
  /**
   * How long the recommender reuses a user's history and rankings (ms; 0 = off). Events
   * recorded through this server invalidate them at once, events from other processes through
   * Postgres NOTIFY. Default: GRAFT_CACHE_TTL_MS or 60,000. Ignored with `recommender`.
   */
  cacheTtlMs?: number;
  /**
   * Most recently active users per domain precomputed when an active model loads (history,
   * query and first ranking: their first request reads and searches nothing; ~3 KB each).
   * Default: GRAFT_PRECOMPUTE_USERS or 50,000; 0 = off. Ignored with `recommender`.
   */
  precomputeUsers?: number;
  schema?: GraphQLSchema;
  /** Operation limits per caller (role, or ANONYMOUS without a key); what is left out keeps DEFAULT_OPERATION_LIMITS. */
  limits?: Partial<Record<Caller, Partial<OperationLimits>>>;
  /** Schema introspection for every caller. Default: GRAFT_INTROSPECTION, else off (on when `graphiql` is). */
  introspection?: boolean;
  /** GraphiQL at GET /graphql in a browser. Default: GRAFT_GRAPHIQL, else off. */
  graphiql?: boolean;
  /** Who may read /metrics: `open`, `key` (an ANALYST or ADMIN key), `off`. Default: GRAFT_METRICS, else `key`. */
  metrics?: MetricsAccess;
  /** Estimated cost above which operations run one at a time in this process (default DEFAULT_HEAVY_COST). */
  heavyCost?: number;
  /** Full error details (stack traces) to clients. Default: NODE_ENV === 'development'. */
  development?: boolean;
  /** Database handle used by resolvers (tests pass a query-counting one). Default: gdb.db. */
  requestDb?: Db;
  /** Extra GET routes (e.g. /explorer), keyed by path. */
  routes?: Record<string, RouteHandler>;
  /** Services other adapters need in resolvers (jobs runner, explorer cache). */
  extensions?: Record<string, unknown>;
  /** Load every domain's active model before answering /healthz ready (default true). */
  preload?: boolean;
  /**
   * Run queued training/transfer jobs in this process, one at a time (default: on PGlite,
   * where one process owns the data folder; on Postgres `graft worker` processes run them).
   */
  runJobs?: boolean;
}

export interface GraftServer {
  url: string;
  port: number;
  http: Server;
  services: GraftServices;
  authenticator: Authenticator;
  close(): Promise<void>;
}

/**
 * Starts the HTTP server: GraphQL at /graphql (POST, GET; GraphiQL for browsers;
 * graphql-ws subscriptions on the same path), /healthz, /metrics, and the embedding
 * explorer page at /explorer. A thin coordinator: configuration from the environment
 * (server-environment.ts), the Apollo handler with the limits (apollo-handler.ts), graphql-ws
 * (websocket-server.ts), the routes (http-router.ts) and the job runner (server-jobs.ts).
 *
 * @example
 * const server = await startGraftServer({ gdb: await connect(), port: 4000 });
 * console.log(server.url); // http://localhost:4000/graphql
 */
export async function startGraftServer(options: GraftServerOptions): Promise<GraftServer> {
  const env = readServerEnvironment();
  const development = options.development ?? env.development;
  const logger = options.logger ?? pino({ level: env.logLevel });
  const recommender =
    options.recommender ?? new Recommender(options.gdb, { logger, cacheTtlMs: options.cacheTtlMs ?? env.cacheTtlMs, precomputeUsers: options.precomputeUsers ?? env.precomputeUsers });
  const limits = resolveLimits(options.limits);
  const heavyGate = new HeavyGate(options.heavyCost ?? DEFAULT_HEAVY_COST);
  const exposure = resolveExposure({ introspection: options.introspection, graphiql: options.graphiql, metrics: options.metrics });
  const services: GraftServices = { gdb: options.gdb, recommender, logger, extensions: options.extensions ?? {}, limits };
  const schema = options.schema ?? (await buildGraftSchema());
  const metrics = createServerMetrics(recommender);
  // Under `graft serve --workers N` a scrape on any worker reports the whole cluster.
  const clusterMetrics = clusterMetricsSource(metrics.registry);
  const authenticator = new Authenticator(options.gdb.db);
  const requestDb = options.requestDb ?? options.gdb.db;
  // The analysts' embedding explorer is part of every server; options.routes may replace it.
  registerExplorerAssets();

  const http = createServer();
  const apollo = await startApolloHandler({ http, schema, services, authenticator, limits, heavyGate, introspection: exposure.introspection, development, requestDb, logger, plugins: [metrics.plugin] });
  const websocket = startWebSocketServer(http, { schema, services, authenticator, limits, heavyGate, introspection: exposure.introspection, development, requestDb, maxPayload: MAX_BODY_BYTES });
  const route = createRouter({
    gdb: options.gdb,
    recommender,
    authenticator,
    exposure,
    graphql: apollo.handle,
    metrics: { registry: metrics.registry, scrape: () => (clusterMetrics ? clusterMetrics() : metrics.registry.metrics()) },
    routes: { [EXPLORER_PATH]: explorerRoute, ...options.routes },
  });
  http.on('request', (req, res) => {
    route(req, res).catch((error: unknown) => {
      logger.error({ err: error }, 'request failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal server error' });
      else res.end();
    });
  });

  const jobs = startServerJobs(options.gdb, recommender, logger, { runJobs: options.runJobs, preload: options.preload });

  const port = options.port ?? env.port;
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, options.host ?? env.host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  const actualPort = (http.address() as AddressInfo).port;
  return {
    url: `http://localhost:${actualPort}/graphql`,
    port: actualPort,
    http,
    services,
    authenticator,
    close: async () => {
      await jobs.stop();
      await websocket.close();
      await apollo.stop();
      if (!options.recommender) await recommender.close();
    },
  };
}

export { GraphQLError };
