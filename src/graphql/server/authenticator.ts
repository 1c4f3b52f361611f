import { GraphQLError } from 'graphql';
import { authenticateApiKey } from '../../auth/index.js';
import type { Db } from '../../db/database.js';
import { isGraftError } from '../../errors.js';
import type { Principal } from '../context.js';

/**
 * Turns `Authorization: Bearer KEY` into a principal. Verified keys are remembered for
 * `ttlMs` so a busy app does not cost a database round trip (and a last-used write) per
 * request; a revoked key therefore stops working within `ttlMs` on other processes
 * (at once on the process that revoked it, which calls `forget`).
 */
export class Authenticator {
  private readonly cache = new Map<string, { principal: Principal; until: number }>();

  constructor(
    private readonly db: Db,
    private readonly ttlMs = 10_000,
  ) {}

  /** null when no Authorization header; throws UNAUTHENTICATED (HTTP 401) for a malformed, unknown or revoked key. */
  async fromHeader(header: string | undefined | null): Promise<Principal | null> {
    if (header === undefined || header === null || header === '') return null;
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) throw unauthenticated('the Authorization header must be `Bearer KEY` (a key from `graft keys create`)');
    const key = match[1]!;
    const cached = this.cache.get(key);
    const now = Date.now();
    if (cached && cached.until > now) return cached.principal;
    try {
      const record = await authenticateApiKey(this.db, key);
      const principal: Principal = { keyId: record.id, name: record.name, role: record.role };
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(key, { principal, until: now + this.ttlMs });
      return principal;
    } catch (error) {
      if (isGraftError(error, 'UNAUTHENTICATED') || isGraftError(error, 'BAD_INPUT') || isGraftError(error, 'NOT_FOUND')) throw unauthenticated(error.message);
      throw error;
    }
  }

  /** Drops cached verifications (after a revocation in this process). */
  forget(): void {
    this.cache.clear();
  }
}

function unauthenticated(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });
}
