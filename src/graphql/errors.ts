import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { isGraftError, type GraftErrorCode } from '../errors.js';

/** The `extensions.code` a client sees for each library error code. */
const CODES: Record<GraftErrorCode, string> = {
  BAD_INPUT: 'BAD_USER_INPUT',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  FORBIDDEN: 'FORBIDDEN',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  CANCELLED: 'CANCELLED',
  INTERNAL: 'INTERNAL_SERVER_ERROR',
};

/** Codes whose message was written for the client (everything else is masked in production). */
const CLIENT_CODES = new Set([
  'BAD_USER_INPUT',
  'NOT_FOUND',
  'CONFLICT',
  'FORBIDDEN',
  'UNAUTHENTICATED',
  'SERVICE_UNAVAILABLE',
  'CANCELLED',
  'TIMEOUT',
  'GRAPHQL_VALIDATION_FAILED',
  'GRAPHQL_PARSE_FAILED',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'OPERATION_RESOLUTION_FAILURE',
]);

export function graphqlError(code: 'BAD_USER_INPUT' | 'NOT_FOUND' | 'FORBIDDEN' | 'UNAUTHENTICATED' | 'CONFLICT', message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code } });
}

/** A variable the client got wrong (graphql-js's coercion error): BAD_USER_INPUT with HTTP 400, whichever executor found it. */
export function badVariable(error: GraphQLError): GraphQLError {
  return new GraphQLError(error.message, { nodes: error.nodes, extensions: { ...error.extensions, code: 'BAD_USER_INPUT', http: { status: 400 } } });
}

/**
 * What leaves the server: known client errors as they are; unexpected ones reduced to
 * "internal error" (with the request id to find it in the logs) unless NODE_ENV=development.
 * Stack traces never leave the server outside development.
 */
export function formatGraphQLError(formatted: GraphQLFormattedError, development: boolean, error?: unknown): GraphQLFormattedError {
  // Library errors are mapped here, once per error, rather than by a middleware around every
  // field (type-graphql runs global middlewares for each field, a measurable cost per request).
  const original = error === undefined ? undefined : unwrapResolverError(error);
  if (isGraftError(original)) {
    formatted = { ...formatted, message: original.message, extensions: { ...formatted.extensions, code: CODES[original.code] } };
  }
  const code = String(formatted.extensions?.code ?? 'INTERNAL_SERVER_ERROR');
  if (development) return formatted;
  const { stacktrace: _drop, ...extensions } = formatted.extensions ?? {};
  if (CLIENT_CODES.has(code)) return { ...formatted, extensions: { ...extensions, code } };
  return {
    message: 'internal server error; the server log has the details (look for this path and time)',
    locations: formatted.locations,
    path: formatted.path,
    extensions: { code: 'INTERNAL_SERVER_ERROR' },
  };
}
