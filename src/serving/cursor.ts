import { GraftError } from '../errors.js';

/** `modelId` of cursors issued by the popularity ranking. */
export const POPULAR_RANKING = 'popular';

/** What a cursor carries: which ranking it belongs to and how far into it the client has read. */
export interface CursorPayload {
  /** The model whose ranking issued the cursor, or `'popular'`. */
  modelId: string;
  /** That model's version in its domain (0 for `'popular'`). */
  version: number;
  /** Items consumed up to and including the cursor's item: the next page starts at this 0-based rank. */
  offset: number;
  /**
   * Which index ranked the items (`exact` or `hnsw`): the exact index stays loaded next to a
   * later-built HNSW index, so a client keeps paging through the ranking it started on.
   */
  index?: 'exact' | 'hnsw';
  /** Fingerprint of the request arguments that shape the ranking (user, filter, diversity, excludeSeen). */
  request?: string;
}

const PREFIX = 'g1';
const INDEX_CODES = { exact: 'e', hnsw: 'h' } as const;
const MODEL_ID = /^(popular|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;

/**
 * Encodes a cursor as opaque base64url text.
 *
 * @example
 * encodeCursor({ modelId: 'popular', version: 0, offset: 20 }); // 'ZzEucG9wdWxhci4wLjIwLi4'
 */
export function encodeCursor(payload: CursorPayload): string {
  return cursorEncoder(payload)(payload.offset);
}

/**
 * The cursors of one page differ only in their offset: checks the rest once and returns an
 * encoder of offsets.
 *
 * @example
 * const at = cursorEncoder({ modelId: 'popular', version: 0 });
 * const cursors = [1, 2, 3].map(at);
 */
export function cursorEncoder(payload: Omit<CursorPayload, 'offset'>): (offset: number) => string {
  if (!MODEL_ID.test(payload.modelId)) throw new GraftError('INTERNAL', `cursor model id "${payload.modelId}" is neither a UUID nor "popular"`);
  if (!Number.isInteger(payload.version) || payload.version < 0) {
    throw new GraftError('INTERNAL', `cursor version ${payload.version} must be a non-negative integer`);
  }
  if (payload.request !== undefined && !/^[0-9a-z]*$/.test(payload.request)) {
    throw new GraftError('INTERNAL', `cursor request fingerprint "${payload.request}" must be lower-case base-36`);
  }
  const head = `${PREFIX}.${payload.modelId.toLowerCase()}.${payload.version}.`;
  const tail = `.${payload.index ? INDEX_CODES[payload.index] : ''}.${payload.request ?? ''}`;
  return (offset: number) => {
    if (!Number.isInteger(offset) || offset < 0) throw new GraftError('INTERNAL', `cursor offset ${offset} must be a non-negative integer`);
    return Buffer.from(head + offset + tail, 'utf8').toString('base64url');
  };
}

/**
 * Decodes a cursor from `encodeCursor`; BAD_INPUT naming the cursor for anything else.
 *
 * @example
 * decodeCursor(page.endCursor!).offset; // 20 after a first page of 20
 */
export function decodeCursor(cursor: string): CursorPayload {
  const bad = () =>
    new GraftError(
      'BAD_INPUT',
      `cursor ${JSON.stringify(shorten(String(cursor)))} is not a cursor issued by this API; pass a cursor from a previous page (endCursor), or leave \`after\` out for the first page`,
    );
  if (typeof cursor !== 'string' || cursor.length === 0 || cursor.length > 200 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw bad();
  const parts = Buffer.from(cursor, 'base64url').toString('utf8').split('.');
  if (parts.length !== 6 || parts[0] !== PREFIX) throw bad();
  const [, modelId, version, offset, index, request] = parts as [string, string, string, string, string, string];
  if (!MODEL_ID.test(modelId) || !/^\d{1,9}$/.test(version) || !/^\d{1,9}$/.test(offset) || !/^[eh]?$/.test(index) || !/^[0-9a-z]*$/.test(request)) {
    throw bad();
  }
  return {
    modelId,
    version: Number(version),
    offset: Number(offset),
    ...(index === 'e' ? { index: 'exact' as const } : index === 'h' ? { index: 'hnsw' as const } : {}),
    ...(request ? { request } : {}),
  };
}

function shorten(text: string): string {
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
