import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { ApolloServer, HeaderMap } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { GraphQLError, type GraphQLSchema } from 'graphql';
import type { Logger } from 'pino';
import type { Db } from '../../db/database.js';
import { isGraftError } from '../../errors.js';
import { callerOf, createContext, type GraftServices, type GraphqlContext, type Principal } from '../context.js';
import { formatGraphQLError } from '../errors.js';
import type { HeavyGate } from '../limits/heavy-gate.js';
import { checkDocumentSize, checkOperation } from '../limits/operation-guard.js';
import type { Caller, OperationLimits } from '../limits/operation-limits.js';
import type { Authenticator } from './authenticator.js';
import { MAX_BODY_BYTES, readBody, sendJson } from './http-response.js';
import { jitGateway } from './jit-gateway.js';
import type { ApolloServerPlugin } from '@apollo/server';

export interface ApolloHandlerOptions {
  http: Server;
  schema: GraphQLSchema;
  services: GraftServices;
  authenticator: Authenticator;
  limits: Record<Caller, OperationLimits>;
  heavyGate: HeavyGate;
  introspection: boolean;
  development: boolean;
  requestDb: Db;
  logger: Logger;
  /** Apollo plugins of other parts (the metrics). */
  plugins: ApolloServerPlugin<GraphqlContext>[];
}

/** POST / GET `/graphql` through Apollo's request pipeline (graphql-jit executes), and how to stop it. */
export interface ApolloHandler {
  handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The GraphQL-over-HTTP part of the server: Apollo Server 5 with graphql-jit as its executor,
 * the limits layer (document size before parsing; depth, aliases, cost and inputs once the
 * operation is known; the heavy-operation gate and the deadline), and error logging that
 * tells client mistakes from server faults.
 */
export async function startApolloHandler(options: ApolloHandlerOptions): Promise<ApolloHandler> {
  const { schema, limits, heavyGate, logger, authenticator, services, requestDb } = options;
  const apollo = new ApolloServer<GraphqlContext>({
    // graphql-jit executes queries and mutations (jit-gateway.ts); the schema comes with it.
    gateway: jitGateway(schema),
    introspection: options.introspection,
    includeStacktraceInErrorResponses: options.development,
    // Batches would sum many operations' costs past any one limit: one operation per request.
    allowBatchedHttpRequests: false,
    formatError: (formatted, error) => formatGraphQLError(formatted, options.development, error),
    // Apollo's default indents every response (JSON.stringify(value, null, 2)): bigger bodies
    // and slower to write; clients and GraphiQL format what they show themselves.
    stringifyResult: (result) => JSON.stringify(result),
    plugins: [
      // Cache-control hints are unused here, and the plugin makes Apollo wrap every field resolver.
      ApolloServerPluginCacheControlDisabled(),
      ...options.plugins,
      ApolloServerPluginDrainHttpServer({ httpServer: options.http }),
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

  /** The caller's limits for a request's document size: its key's role, or anonymous (a bad key is refused later, by Apollo, with 401). */
  async function limitsOf(principal: Promise<Principal | null>): Promise<{ caller: Caller; limits: OperationLimits }> {
    let caller: Caller = 'ANONYMOUS';
    try {
      caller = callerOf(await principal);
    } catch (error) {
      if (!(error instanceof GraphQLError)) throw error;
    }
    return { caller, limits: limits[caller] };
  }

  async function handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
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
    // One key lookup per request: the size check and the context share it (a bad key is refused by the context, 401).
    const principal = authenticator.fromHeader(req.headers.authorization);
    principal.catch(() => undefined);
    // The document's size is checked before anything parses it.
    const queries = [url.searchParams.get('query'), ...(Array.isArray(body) ? body : [body]).map((b) => (b as { query?: unknown } | null)?.query)];
    const documents = queries.filter((q): q is string => typeof q === 'string');
    if (documents.length > 0) {
      const { caller, limits: callerLimits } = await limitsOf(principal);
      for (const document of documents) {
        const tooBig = checkDocumentSize(document, callerLimits, caller);
        if (tooBig) return sendJson(res, 400, { errors: [{ message: tooBig.message, extensions: { code: tooBig.extensions.code } }] });
      }
    }
    const response = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: req.method ?? 'GET', headers, search: url.search, body },
      context: async () => createContext(services, await principal, randomUUID(), requestDb),
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

  return { handle, stop: () => apollo.stop() };
}
