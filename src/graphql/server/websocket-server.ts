import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { execute, getOperationAST, GraphQLError, NoSchemaIntrospectionCustomRule, parse, specifiedRules, validate, type ExecutionResult, type GraphQLFormattedError, type GraphQLSchema } from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { Db } from '../../db/database.js';
import { callerOf, createContext, type GraftServices, type GraphqlContext, type Principal } from '../context.js';
import { badVariable, formatGraphQLError } from '../errors.js';
import type { HeavyGate } from '../limits/heavy-gate.js';
import { checkDocumentSize, checkOperation } from '../limits/operation-guard.js';
import type { LimitsByCaller } from '../limits/operation-limits.js';
import type { Authenticator } from './authenticator.js';

export interface WebSocketOptions {
  schema: GraphQLSchema;
  services: GraftServices;
  authenticator: Authenticator;
  limits: LimitsByCaller;
  heavyGate: HeavyGate;
  introspection: boolean;
  development: boolean;
  requestDb: Db;
  /** Largest message accepted (bytes). */
  maxPayload: number;
}

/** graphql-js's rules with introspection refused (what Apollo does with `introspection: false`). */
const VALIDATION_WITHOUT_INTROSPECTION = [...specifiedRules, NoSchemaIntrospectionCustomRule];

/**
 * graphql-ws on the HTTP server's /graphql. It runs subscriptions and also queries and
 * mutations, so it applies what the HTTP path does: the caller's document size, depth, alias,
 * cost and input checks before running, the heavy-operation gate, the deadline, the same error
 * codes and formatting, and messages no larger than an HTTP body. A bad or revoked key closes
 * the socket with 4401 and the reason (HTTP answers 401).
 */
export function startWebSocketServer(http: Server, options: WebSocketOptions): { close(): Promise<void> } {
  const { schema, services, authenticator, limits, heavyGate, development, requestDb } = options;
  const wss = new WebSocketServer({ server: http, path: '/graphql', maxPayload: options.maxPayload });
  const format = (errors: readonly GraphQLError[]): GraphQLFormattedError[] =>
    errors.map((e) => {
      const { http: _http, ...extensions } = e.extensions ?? {};
      return formatGraphQLError({ ...e.toJSON(), extensions }, development, e);
    });
  const releases = new WeakMap<GraphqlContext, () => void>();
  const cleanup = useServer<Record<string, unknown>>(
    {
      schema,
      onConnect: async (ctx) => {
        try {
          await authenticator.fromHeader(authorizationOf(ctx.connectionParams));
          return true;
        } catch (error) {
          if (!(error instanceof GraphQLError) || error.extensions?.code !== 'UNAUTHENTICATED') throw error;
          ctx.extra.socket.close(CloseCode.Unauthorized, closeReason(`Unauthorized: ${error.message}`));
          return false;
        }
      },
      onSubscribe: async (ctx, _id, payload) => {
        let principal: Principal | null;
        try {
          // Again per operation (cached): a key revoked while the socket is open stops working.
          principal = await authenticator.fromHeader(authorizationOf(ctx.connectionParams));
        } catch (error) {
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
        const caller = callerOf(principal);
        const tooBig = checkDocumentSize(payload.query, limits[caller], caller);
        if (tooBig) return [tooBig];
        let document;
        try {
          document = parse(payload.query);
        } catch (error) {
          if (error instanceof GraphQLError) return [new GraphQLError(error.message, { nodes: error.nodes, extensions: { code: 'GRAPHQL_PARSE_FAILED' } })];
          throw error;
        }
        const invalid = validate(schema, document, options.introspection ? undefined : VALIDATION_WITHOUT_INTROSPECTION);
        if (invalid.length > 0) return invalid.map((e) => new GraphQLError(e.message, { nodes: e.nodes, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }));
        const operation = getOperationAST(document, payload.operationName);
        if (!operation) return [new GraphQLError('the document has no operation of that name; send operationName', { extensions: { code: 'OPERATION_RESOLUTION_FAILURE' } })];
        const { errors: refused, measure } = checkOperation({ schema, document, operation, variables: payload.variables ?? undefined, limits: limits[caller], caller });
        if (refused.length > 0) return refused;
        const contextValue = createContext(services, principal, randomUUID(), requestDb);
        if (operation.operation !== 'subscription') {
          const release = await heavyGate.enter(measure.cost, contextValue.deadline);
          if (!release) return [contextValue.deadline.error()];
          releases.set(contextValue, release);
        }
        return { schema, document, operationName: payload.operationName, variableValues: payload.variables, contextValue };
      },
      // Queries and mutations get the caller's deadline; a subscription lasts as long as its job.
      execute: (args) => {
        const context = args.contextValue as GraphqlContext;
        const run = Promise.resolve(execute(args)).then((result) =>
          // No data at all: graphql-js refused the variables before running anything.
          result.data === undefined && result.errors ? { errors: result.errors.map(badVariable) } : result,
        );
        return context.deadline.race<ExecutionResult>(run, (error) => ({ errors: [error] })).finally(() => releases.get(context)?.());
      },
      onNext: (_ctx, _id, _payload, _args, result) => (result.errors ? { ...result, errors: format(result.errors) } : undefined),
      onError: (_ctx, _id, _payload, errors) => format(errors),
    },
    wss,
  );
  return {
    close: async () => {
      await cleanup.dispose();
      wss.close();
    },
  };
}

function authorizationOf(params: Readonly<Record<string, unknown>> | undefined): string | null {
  const raw = params?.authorization ?? params?.Authorization;
  return typeof raw === 'string' ? raw : null;
}

/** A WebSocket close reason fits in 123 bytes. */
function closeReason(text: string): string {
  if (Buffer.byteLength(text) <= 123) return text;
  let out = text.slice(0, 120);
  while (Buffer.byteLength(`${out}…`) > 123) out = out.slice(0, -1);
  return `${out}…`;
}
