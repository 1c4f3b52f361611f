import { describe, expect, it } from 'vitest';
import { isGraftError } from '../errors.js';
import { decodeCursor, encodeCursor } from './cursor.js';

const MODEL = '0b7c6f7e-52a3-4a77-9d2c-5f4c1e0f9a10';

describe('cursor', () => {
  it('round-trips every field and is url-safe', () => {
    const payload = { modelId: MODEL, version: 7, offset: 1234, index: 'hnsw' as const, request: 'z3k9' };
    const cursor = encodeCursor(payload);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor)).toEqual(payload);
    expect(decodeCursor(encodeCursor({ modelId: 'popular', version: 0, offset: 20 }))).toEqual({ modelId: 'popular', version: 0, offset: 20 });
  });

  it('does not reveal its fields in plain text', () => {
    expect(encodeCursor({ modelId: MODEL, version: 3, offset: 40 })).not.toContain(MODEL);
  });

  it('rejects garbage with BAD_INPUT naming the cursor', () => {
    const tampered = Buffer.from(`g1.${MODEL}.3.-5..`).toString('base64url');
    const otherPrefix = Buffer.from(`v9.${MODEL}.3.5..`).toString('base64url');
    const notAModel = Buffer.from('g1.robert;drop.3.5..').toString('base64url');
    for (const garbage of ['', 'hello world', 'abc', '!!!', tampered, otherPrefix, notAModel, 'x'.repeat(300)]) {
      let error: unknown;
      try {
        decodeCursor(garbage);
      } catch (e) {
        error = e;
      }
      expect(isGraftError(error, 'BAD_INPUT'), garbage).toBe(true);
      expect((error as Error).message).toContain('is not a cursor issued by this API');
    }
    expect(() => decodeCursor('abc')).toThrow(/cursor "abc"/);
  });
});
