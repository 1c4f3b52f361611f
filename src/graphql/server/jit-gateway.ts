import type { GatewayExecutor, GatewayInterface } from '@apollo/server-gateway-interface';
import {
  astFromValue,
  execute,
  getNullableType,
  getVariableValues,
  GraphQLError,
  isInputObjectType,
  isListType,
  typeFromAST,
  valueFromASTUntyped,
  type ExecutionResult,
  type GraphQLInputField,
  type GraphQLInputType,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';
import { LruCache } from '../../serving/lru-cache.js';
import type { GraphqlContext } from '../context.js';
import { badVariable } from '../errors.js';

/** Compiled operations kept per process (the least recently used go: clients that inline values send many). */
const MAX_COMPILED = 500;

/**
 * Executes queries and mutations with graphql-jit instead of graphql-js: an operation is
 * compiled to JavaScript once (per query text and operation name) and then run as straight-line code, without graphql-js's per-field work (argument
 * maps, resolve-info objects, promise checks): for a page of 20 recommendations that work was
 * a third of the server's CPU. Resolvers, type-graphql middleware and authorization are the
 * same functions either way; Apollo still parses, validates (query limits included), formats
 * errors and runs plugins.
 *
 * Apollo Server 5 has no executor option; its gateway interface is the supported way to
 * supply one. Subscriptions do not come through here (graphql-ws runs them with graphql-js).
 */
export function jitGateway(schema: GraphQLSchema): GatewayInterface {
  // Keyed by Apollo's hash of the query text and the operation name; least recently used go.
  const compiled = new LruCache<string, CompiledQuery | ExecutionResult>(MAX_COMPILED);

  const executor: GatewayExecutor = async (rc) => {
    const { document, operation } = rc;
    if (operation.operation === 'subscription') {
      return execute({ schema, document, contextValue: rc.context, variableValues: rc.request.variables, operationName: rc.operationName });
    }
    const key = `${rc.queryHash}\u0000${rc.operationName ?? ''}`;
    let query = compiled.get(key);
    if (!query) {
      query = compileQuery(schema, document, rc.operationName ?? undefined, { disablingCapturingStackErrors: true });
      compiled.set(key, query);
    }
    if (!isCompiledQuery(query)) return query; // the operation itself was refused
    const context = rc.context as unknown as GraphqlContext;
    const variables = rc.request.variables ?? {};
    const run = Promise.resolve(query.query(undefined, context, withInputDefaults(schema, operation, variables)));
    const result = await context.deadline.race<ExecutionResult>(run, (error) => ({ errors: [error] }));
    if (!result.errors) return result;
    if (result.data === undefined && !context.deadline.expired) {
      // Nothing ran: graphql-jit refused the variables. Its errors are not the client's kind
      // (Apollo reports them as internal); graphql-js's coercion says which variable is wrong and why.
      const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables);
      if (coerced.errors) return { errors: coerced.errors.map(badVariable) };
    }
    return { ...result, errors: result.errors.map(upstreamError) };
  };

  return {
    async load() {
      return { executor };
    },
    onSchemaLoadOrUpdate(callback) {
      callback({ apiSchema: schema, coreSupergraphSdl: '' });
      return () => undefined;
    },
    async stop() {},
  };
}

/**
 * graphql-jit applies the defaults of arguments and variables but not those of input object
 * fields inside variables (graphql-js does: e.g. EventInput.weight = 1 when a client leaves it
 * out); this adds them, in the client's form, before graphql-jit coerces the variables.
 */
function withInputDefaults(schema: GraphQLSchema, operation: OperationDefinitionNode, variables: Record<string, unknown>): Record<string, unknown> {
  let out = variables;
  for (const definition of operation.variableDefinitions ?? []) {
    const name = definition.variable.name.value;
    const value = variables[name];
    const type = typeFromAST(schema, definition.type as never) as GraphQLInputType | undefined;
    if (value === undefined || value === null || !type) continue;
    const filled = fillDefaults(type, value);
    if (filled !== value) out = { ...out, [name]: filled };
  }
  return out;
}

function fillDefaults(type: GraphQLInputType, value: unknown): unknown {
  if (value === null || value === undefined) return value;
  const nullable = getNullableType(type);
  if (isListType(nullable)) {
    if (!Array.isArray(value)) return fillDefaults(nullable.ofType, value);
    const items = value.map((v) => fillDefaults(nullable.ofType, v));
    return items.some((v, i) => v !== value[i]) ? items : value;
  }
  if (!isInputObjectType(nullable) || typeof value !== 'object' || Array.isArray(value)) return value;
  let out = value as Record<string, unknown>;
  for (const field of Object.values(nullable.getFields())) {
    const current = out[field.name];
    const next = current === undefined ? externalDefault(field) : fillDefaults(field.type, current);
    if (next !== current) out = out === value ? { ...out, [field.name]: next } : Object.assign(out, { [field.name]: next });
  }
  return out;
}

const externalDefaults = new WeakMap<GraphQLInputField, unknown>();

/** An input field's default as a client would write it (enum names, not their internal values); undefined without one. */
function externalDefault(field: GraphQLInputField): unknown {
  if (field.defaultValue === undefined) return undefined;
  if (!externalDefaults.has(field)) {
    const ast = astFromValue(field.defaultValue, field.type);
    externalDefaults.set(field, ast ? valueFromASTUntyped(ast) : undefined);
  }
  return externalDefaults.get(field);
}

/**
 * graphql-jit's errors are its own class, without `extensions` unless the original error had
 * them; Apollo and the error formatter expect graphql-js's GraphQLError with its original error.
 */
function upstreamError(error: GraphQLError): GraphQLError {
  const original = (error as { originalError?: Error | null }).originalError ?? undefined;
  const out = new GraphQLError(error.message, { path: error.path, originalError: original, extensions: error.extensions });
  if (error.locations) Object.defineProperty(out, 'locations', { value: error.locations, enumerable: true });
  return out;
}
