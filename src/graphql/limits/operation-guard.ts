import { GraphQLError, Kind, visit, type DocumentNode, type GraphQLSchema, type OperationDefinitionNode, type ValueNode } from 'graphql';
import { measureOperation, type OperationMeasure } from './operation-cost.js';
import type { Caller, OperationLimits } from './operation-limits.js';

/** Who the limits apply to, as messages name it. */
function callerName(caller: Caller): string {
  return caller === 'ANONYMOUS' ? 'callers without an API key' : `${caller} keys`;
}

function refused(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'GRAPHQL_VALIDATION_FAILED', http: { status: 400 } } });
}

function badInput(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } });
}

/** Refuses a query document over the caller's size limit, before anything parses it. */
export function checkDocumentSize(source: string, limits: OperationLimits, caller: Caller): GraphQLError | undefined {
  // UTF-16 length <= UTF-8 length <= 3 x it: the exact byte count is needed only near the limit.
  if (source.length * 3 <= limits.maxDocumentBytes) return undefined;
  const bytes = Buffer.byteLength(source, 'utf8');
  if (bytes <= limits.maxDocumentBytes) return undefined;
  const hint = caller === 'ANONYMOUS' ? 'send an API key, or a smaller query' : 'send a smaller query (values belong in variables)';
  return refused(`the query document is ${bytes} bytes; the limit for ${callerName(caller)} is ${limits.maxDocumentBytes}: ${hint}`);
}

/**
 * Everything checked between parsing and execution, on every transport: depth, aliases and
 * cost against the caller's limits (GRAPHQL_VALIDATION_FAILED), and string inputs Postgres
 * cannot store (BAD_USER_INPUT, naming the argument or variable). No errors when the operation
 * may run; `measure` says what it asks for either way.
 */
export function checkOperation(options: {
  schema: GraphQLSchema;
  document: DocumentNode;
  operation: OperationDefinitionNode;
  variables: Record<string, unknown> | undefined;
  limits: OperationLimits;
  caller: Caller;
}): { errors: GraphQLError[]; measure: OperationMeasure } {
  const { limits, caller, operation } = options;
  const errors: GraphQLError[] = [];
  const name = operation.name ? `operation ${operation.name.value}` : 'the operation';
  const measure = measureOperation(options.schema, options.document, operation, options.variables);
  const { depth, aliases, cost } = measure;
  const who = callerName(caller);
  if (depth > limits.maxDepth) {
    errors.push(refused(`${name} is nested ${depth} levels deep; the limit for ${who} is ${limits.maxDepth}: ask for fewer nested fields`));
  }
  if (aliases > limits.maxAliases) {
    errors.push(refused(`${name} has ${format(aliases)} aliased fields; the limit for ${who} is ${limits.maxAliases}: send fewer aliases (or several requests)`));
  }
  if (cost > limits.maxCost) {
    errors.push(refused(`${name} has an estimated cost of ${format(cost)}; the limit for ${who} is ${limits.maxCost}: ask for smaller pages (first, sample) or fewer fields`));
  }
  const nul = findNul(options.document, options.variables);
  if (nul) errors.push(badInput(`${nul} contains a NUL character (\\u0000), which cannot be stored; remove it`));
  return { errors, measure };
}

function format(n: number): string {
  return Number.isSafeInteger(n) ? String(n) : n.toExponential(2);
}

/** Where the first NUL character of the request's inputs is: `variable "$events" at [1].userId`, `argument "userId"`; undefined when none. */
export function findNul(document: DocumentNode, variables: Record<string, unknown> | undefined): string | undefined {
  for (const [name, value] of Object.entries(variables ?? {})) {
    const at = nulPath(value, '');
    if (at !== undefined) return `variable "$${name}"${at ? ` at ${at}` : ''}`;
  }
  let found: string | undefined;
  visit(document, {
    Argument(node) {
      if (found) return false;
      const at = nulInLiteral(node.value, '');
      if (at !== undefined) found = `argument "${node.name.value}"${at ? ` at ${at}` : ''}`;
      return false;
    },
    VariableDefinition(node) {
      if (found || !node.defaultValue) return false;
      const at = nulInLiteral(node.defaultValue, '');
      if (at !== undefined) found = `the default of variable "$${node.variable.name.value}"${at ? ` at ${at}` : ''}`;
      return false;
    },
  });
  return found;
}

function nulPath(value: unknown, path: string): string | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? path : undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const at = nulPath(value[i], `${path}[${i}]`);
      if (at !== undefined) return at;
    }
  } else if (value !== null && typeof value === 'object') {
    for (const [key, v] of Object.entries(value)) {
      if (key.includes('\u0000')) return `${path}.${key.replace('\u0000', '\\u0000')}`;
      const at = nulPath(v, path ? `${path}.${key}` : key);
      if (at !== undefined) return at;
    }
  }
  return undefined;
}

function nulInLiteral(value: ValueNode, path: string): string | undefined {
  if (value.kind === Kind.STRING || value.kind === Kind.ENUM) return value.value.includes('\u0000') ? path : undefined;
  if (value.kind === Kind.LIST) {
    for (let i = 0; i < value.values.length; i++) {
      const at = nulInLiteral(value.values[i]!, `${path}[${i}]`);
      if (at !== undefined) return at;
    }
  } else if (value.kind === Kind.OBJECT) {
    for (const field of value.fields) {
      const at = nulInLiteral(field.value, path ? `${path}.${field.name.value}` : field.name.value);
      if (at !== undefined) return at;
    }
  }
  return undefined;
}
