import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer, HeaderMap } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { GraphQLError, type GraphQLSchema } from 'graphql';
import pino, { type Logger } from 'pino';
import type { GraftDatabase } from '../../db/connect.js';
import type { Db } from '../../db/database.js';
import { GraftError, isGraftError } from '../../errors.js';
import { startInProcessRunner, type InProcessRunner } from '../../jobs/index.js';
import { DEFAULT_CACHE_TTL_MS, Recommender } from '../../serving/index.js';
import { callerOf, createContext, type GraftServices, type GraphqlContext, type Principal } from '../context.js';
import { formatGraphQLError } from '../errors.js';
import { checkDocumentSize, checkOperation } from '../limits/operation-guard.js';
import { HeavyGate } from '../limits/heavy-gate.js';
import { DEFAULT_HEAVY_COST, resolveLimits, type Caller, type OperationLimits } from '../limits/operation-limits.js';
import { buildGraftSchema } from '../schema.js';
import { Authenticator } from './authenticator.js';
import { clusterMetricsSource } from './cluster.js';
import { EXPLORER_PATH, explorerRoute, registerExplorerAssets } from './explorer-page.js';
import { checkHealth } from './health.js';
import { jitGateway } from './jit-gateway.js';
import { resolveExposure, type MetricsAccess } from './exposure-settings.js';
import { createServerMetrics } from './metrics.js';
import { graphiqlPage, readAsset } from './static-assets.js';
import { startWebSocketServer } from './websocket-server.js';

/** Largest request body (HTTP) or WebSocket message accepted (a recordEvents call of 1,000 events is ~200 kB). */
const MAX_BODY_BYTES = 2 * 1024 * 1024;

export type RouteHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> | void;

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
 * explorer page at /explorer.
 *
 * @example
 * const server = await startGraftServer({ gdb: await connect(), port: 4000 });
 * console.log(server.url); // http://localhost:4000/graphql
 */
export async function startGraftServer(options: GraftServerOptions): Promise<GraftServer> {
  const development = options.development ?? process.env.NODE_ENV === 'development';
  const logger = options.logger ?? pino({ level: process.env.LOG_LEVEL ?? 'info' });
  const recommender = options.recommender ?? new Recommender(options.gdb, {
      logger,
      cacheTtlMs: options.cacheTtlMs ?? envCacheTtl(),
      precomputeUsers: options.precomputeUsers ?? envPrecomputeUsers(),
    });
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
  const routes: Record<string, RouteHandler> = { [EXPLORER_PATH]: explorerRoute, ...options.routes };

  const http = createServer();
  const apollo = new ApolloServer<GraphqlContext>({
    // graphql-jit executes queries and mutations (jit-gateway.ts); the schema comes with it.
    gateway: jitGateway(schema),
    introspection: exposure.introspection,
    includeStacktraceInErrorResponses: development,
    // Batches would sum many operations' costs past any one limit: one operation per request.
    allowBatchedHttpRequests: false,
    formatError: (formatted, error) => formatGraphQLError(formatted, development, error),
    // Apollo's default indents every response (JSON.stringify(value, null, 2)): bigger bodies
    // and slower to write; clients and GraphiQL format what they show themselves.
    stringifyResult: (result) => JSON.stringify(result),
    plugins: [
      // Cache-control hints are unused here, and the plugin makes Apollo wrap every field resolver.
      ApolloServerPluginCacheControlDisabled(),
      metrics.plugin,
      ApolloServerPluginDrainHttpServer({ httpServer: http }),
      {
        async requestDidStart() {
          let release: (() => void) | undefined;
          return {
            // The limits (depth, aliases, cost, inputs) are checked here rather than as validation
            // rules: they depend on the caller's role and on the variables, and Apollo caches
            // validation per document for everyone.
            async didResolveOperation(rc) {
              if (!rc.operation) return;
              const caller = callerOf(rc.contextValue.principal);
              const { errors, measure } = checkOperation({ schema, document: rc.document, operation: rc.operation, variables: rc.request.variables, limits: limits[caller], caller });
              if (errors.length > 0) throw errors[0];
              const { deadline } = rc.contextValue;
              release = await heavyGate.enter(measure.cost, deadline);
              if (!release) throw deadline.error();
            },
            async willSendResponse() {
              release?.();
            },
            async didEncounterErrors(rc) {
              for (const error of rc.errors) {
                const code = error.extensions?.code;
                if (code === 'TIMEOUT') logger.warn({ path: error.path, requestId: rc.contextValue.requestId, operation: rc.operationName }, 'operation ran past its time budget');
                const library = error.originalError;
                const expected = isGraftError(library) && library.code !== 'INTERNAL';
                if (!expected && (code === undefined || code === 'INTERNAL_SERVER_ERROR')) {
                  logger.error({ err: error.originalError ?? error, path: error.path, requestId: rc.contextValue.requestId }, 'resolver failed');
                }
              }
            },
          };
        },
      },
    ],
  });
  await apollo.start();

  const websocket = startWebSocketServer(http, {
    schema,
    services,
    authenticator,
    limits,
    heavyGate,
    introspection: exposure.introspection,
    development,
    requestDb,
    maxPayload: MAX_BODY_BYTES,
  });

  http.on('request', (req, res) => {
    handle(req, res).catch((error: unknown) => {
      logger.error({ err: error }, 'request failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal server error' });
      else res.end();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/graphql') {
      if (req.method === 'GET' && !url.searchParams.has('query') && (req.headers.accept ?? '').includes('text/html')) {
        if (!exposure.graphiql) {
          return sendText(res, 404, 'GraphiQL is off on this server; start it with `graft serve --graphiql` (or GRAFT_GRAPHIQL=on), or POST queries to /graphql\n', 'text/plain; charset=utf-8');
        }
        return sendText(res, 200, graphiqlPage(), 'text/html; charset=utf-8');
      }
      return graphql(req, res, url);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendJson(res, 405, { error: `${req.method} ${url.pathname} is not supported` });
    if (url.pathname === '/healthz') {
      const health = await checkHealth(options.gdb, recommender);
      return sendJson(res, health.status === 'ok' ? 200 : 503, health);
    }
    if (url.pathname === '/metrics') {
      const refusal = await metricsRefusal(req.headers.authorization);
      if (refusal) return sendJson(res, refusal.status, { error: refusal.message });
      return sendText(res, 200, clusterMetrics ? await clusterMetrics() : await metrics.registry.metrics(), metrics.registry.contentType);
    }
    if (url.pathname === '/') {
      res.writeHead(302, { location: '/graphql' }).end();
      return;
    }
    const route = routes[url.pathname];
    if (route) return route(req, res, url);
    const asset = await readAsset(url.pathname);
    if (asset) {
      res.writeHead(200, { 'content-type': asset.type, 'cache-control': 'public, max-age=3600' }).end(asset.body);
      return;
    }
    sendJson(res, 404, { error: `nothing at ${url.pathname}; the API is at /graphql` });
  }

  /** Why /metrics is refused to this caller (exposure.metrics), or undefined. */
  async function metricsRefusal(header: string | undefined): Promise<{ status: number; message: string } | undefined> {
    if (exposure.metrics === 'open') return undefined;
    if (exposure.metrics === 'off') return { status: 404, message: '/metrics is off on this server; turn it on with GRAFT_METRICS=key (an ANALYST or ADMIN key) or open' };
    let principal: Principal | null;
    try {
      principal = await authenticator.fromHeader(header);
    } catch (error) {
      if (error instanceof GraphQLError) return { status: 401, message: error.message };
      throw error;
    }
    if (!principal) return { status: 401, message: '/metrics needs an ANALYST or ADMIN key: send `Authorization: Bearer KEY` (e.g. `graft keys create --role ANALYST --name prometheus`)' };
    if (principal.role === 'APP') return { status: 403, message: `/metrics needs role ANALYST or above; key "${principal.name}" has role APP` };
    return undefined;
  }

  /** The caller's limits for a request's document size: its key's role, or anonymous (a bad key is refused later, by Apollo, with 401). */
  async function limitsOf(header: string | undefined): Promise<{ caller: Caller; limits: OperationLimits }> {
    let caller: Caller = 'ANONYMOUS';
    try {
      caller = callerOf(await authenticator.fromHeader(header));
    } catch (error) {
      if (!(error instanceof GraphQLError)) throw error;
    }
    return { caller, limits: limits[caller] };
  }

  async function graphql(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
    }
    let body: unknown;
    if (req.method === 'POST') {
      const text = await readBody(req);
      if (text === null) return sendJson(res, 413, { errors: [{ message: `request body over ${MAX_BODY_BYTES} bytes; send fewer events per call`, extensions: { code: 'BAD_REQUEST' } }] });
      try {
        body = text.length ? JSON.parse(text) : {};
      } catch {
        return sendJson(res, 400, { errors: [{ message: 'request body is not valid JSON; send {"query": "...", "variables": {...}}', extensions: { code: 'BAD_REQUEST' } }] });
      }
    }
    // The document's size is checked before anything parses it.
    const queries = [url.searchParams.get('query'), ...(Array.isArray(body) ? body : [body]).map((b) => (b as { query?: unknown } | null)?.query)];
    const documents = queries.filter((q): q is string => typeof q === 'string');
    if (documents.length > 0) {
      const { caller, limits: callerLimits } = await limitsOf(req.headers.authorization);
      for (const document of documents) {
        const tooBig = checkDocumentSize(document, callerLimits, caller);
        if (tooBig) return sendJson(res, 400, { errors: [{ message: tooBig.message, extensions: { code: tooBig.extensions.code } }] });
      }
    }
    const response = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: req.method ?? 'GET', headers, search: url.search, body },
      context: async () => {
        const principal = await authenticator.fromHeader(req.headers.authorization);
        return createContext(services, principal, randomUUID(), requestDb);
      },
    });
    const out: Record<string, string> = {};
    for (const [key, value] of response.headers) out[key] = value;
    res.writeHead(response.status ?? 200, out);
    if (response.body.kind === 'complete') {
      res.end(response.body.string);
      return;
    }
    for await (const chunk of response.body.asyncIterator) res.write(chunk);
    res.end();
  }

  let runner: InProcessRunner | undefined;
  if (options.runJobs ?? options.gdb.kind === 'pglite') {
    runner = startInProcessRunner(options.gdb, { log: (message) => logger.info({ runner: 'in-process' }, message) });
  }

  if (options.preload !== false) {
    recommender.watchActivations().catch((error: unknown) => logger.error({ err: error }, 'activation watcher failed'));
    preloadActiveDomains(options.gdb, recommender, logger);
  }

  const port = options.port ?? Number(process.env.PORT ?? 4000);
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, options.host ?? process.env.HOST ?? '0.0.0.0', () => {
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
      await runner?.stop();
      await websocket.close();
      await apollo.stop();
      if (!options.recommender) await recommender.close();
    },
  };
}

/** Loads each domain's active model in the background so the first requests do not pay for it. */
function preloadActiveDomains(gdb: GraftDatabase, recommender: Recommender, logger: Logger): void {
  void (async () => {
    const domains = await gdb.db.selectFrom('domains').select('name').where('active_model_id', 'is not', null).execute();
    for (const d of domains) {
      try {
        const state = await recommender.ensureLoaded(d.name);
        logger.info({ domain: d.name, modelVersion: state.modelVersion, items: state.items, index: state.indexKind }, 'serving model loaded');
      } catch (error) {
        logger.error({ err: error, domain: d.name }, 'could not load the active model');
      }
    }
  })();
}

function readBody(req: IncomingMessage): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooBig = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(tooBig ? null : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  sendText(res, status, JSON.stringify(body), 'application/json; charset=utf-8');
}

function sendText(res: ServerResponse, status: number, body: string, type: string): void {
  res.writeHead(status, { 'content-type': type }).end(body);
}

export { GraphQLError };

/** Users precomputed per domain by `graft serve` unless told otherwise. */
export const DEFAULT_PRECOMPUTE_USERS = 50_000;

/** GRAFT_PRECOMPUTE_USERS, checked; DEFAULT_PRECOMPUTE_USERS when unset. */
function envPrecomputeUsers(): number {
  const raw = process.env.GRAFT_PRECOMPUTE_USERS;
  if (raw === undefined || raw === '') return DEFAULT_PRECOMPUTE_USERS;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    throw new GraftError('BAD_INPUT', `GRAFT_PRECOMPUTE_USERS=${raw} is not a user count; set an integer >= 0 (0 turns precomputation off), or unset it for ${DEFAULT_PRECOMPUTE_USERS}`);
  }
  return value;
}

/** GRAFT_CACHE_TTL_MS, checked; 60,000 when unset. */
function envCacheTtl(): number {
  const raw = process.env.GRAFT_CACHE_TTL_MS;
  if (raw === undefined || raw === '') return DEFAULT_CACHE_TTL_MS;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) {
    throw new GraftError('BAD_INPUT', `GRAFT_CACHE_TTL_MS=${raw} is not a duration; set milliseconds >= 0 (0 turns the serving cache off), or unset it for ${DEFAULT_CACHE_TTL_MS}`);
  }
  return value;
}
