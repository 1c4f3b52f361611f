/**
 * The one error class of the library. `code` says what kind of failure it is, so
 * adapters (GraphQL, CLI) can map it without parsing messages; the message names
 * the bad value and how to fix it.
 *
 * @example
 * throw new GraftError('NOT_FOUND', 'domain "phone" does not exist; create it with `graft import --domain phone`');
 */
export type GraftErrorCode =
  | 'BAD_INPUT'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'FORBIDDEN'
  | 'UNAUTHENTICATED'
  | 'UNAVAILABLE'
  | 'CANCELLED'
  | 'INTERNAL';

export class GraftError extends Error {
  readonly code: GraftErrorCode;

  constructor(code: GraftErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GraftError';
    this.code = code;
  }
}

export function isGraftError(error: unknown, code?: GraftErrorCode): error is GraftError {
  return error instanceof GraftError && (code === undefined || error.code === code);
}
