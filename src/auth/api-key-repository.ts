import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db } from '../db/database.js';
import { GraftError } from '../errors.js';
import type { Role } from './roles.js';

/** An API key as listed: never the secret, only its prefix. */
export interface ApiKeyRecord {
  id: number;
  name: string;
  role: Role;
  prefix: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

const KEY_PATTERN = /^graft_([A-Za-z0-9]{8})_([A-Za-z0-9_-]{43})$/;

/**
 * Creates a key and returns it once; only its SHA-256 is stored (the key carries 256 random
 * bits, so a fast hash is enough: there is nothing to brute-force).
 *
 * @example
 * const { key } = await createApiKey(db, { name: 'shop frontend', role: 'APP' });
 * // send `Authorization: Bearer ${key}`
 */
export async function createApiKey(db: Db, input: { name: string; role: Role }): Promise<{ key: string; record: ApiKeyRecord }> {
  const name = input.name.trim();
  if (!name) throw new GraftError('BAD_INPUT', 'API key name is empty; give it a name that says who uses it, e.g. --name "shop frontend"');
  const prefix = randomBytes(6).toString('base64url').replace(/[-_]/g, 'x').slice(0, 8);
  const key = `graft_${prefix}_${randomBytes(32).toString('base64url')}`;
  const row = await db
    .insertInto('api_keys')
    .values({ name, role: input.role, key_hash: hashKey(key), prefix, last_used_at: null, revoked_at: null })
    .returningAll()
    .executeTakeFirstOrThrow();
  return { key, record: toRecord(row) };
}

/** The key's record if it is valid and not revoked; UNAUTHENTICATED otherwise (the message never echoes the key). */
export async function authenticateApiKey(db: Db, key: string): Promise<ApiKeyRecord> {
  const match = KEY_PATTERN.exec(key.trim());
  if (!match) {
    throw new GraftError('UNAUTHENTICATED', 'the API key is malformed; send `Authorization: Bearer graft_...` with a key from `graft keys create`');
  }
  const hash = hashKey(key.trim());
  const row = await db.selectFrom('api_keys').selectAll().where('key_hash', '=', hash).executeTakeFirst();
  if (!row || !timingSafeEqual(Buffer.from(row.key_hash, 'hex'), Buffer.from(hash, 'hex'))) {
    throw new GraftError('UNAUTHENTICATED', `API key ${match[1]}… is not known; create one with \`graft keys create --role APP --name NAME\``);
  }
  if (row.revoked_at) {
    throw new GraftError('UNAUTHENTICATED', `API key ${row.prefix}… ("${row.name}") was revoked on ${row.revoked_at.toISOString()}; create a new one`);
  }
  await db.updateTable('api_keys').set({ last_used_at: new Date() }).where('id', '=', row.id).execute();
  return toRecord(row);
}

export async function listApiKeys(db: Db): Promise<ApiKeyRecord[]> {
  return (await db.selectFrom('api_keys').selectAll().orderBy('id').execute()).map(toRecord);
}

/** The largest key id (api_keys.id is an integer). */
const MAX_KEY_ID = 2_147_483_647;

/** Revokes a key by id or prefix; a revoked key never authenticates again. */
export async function revokeApiKey(db: Db, idOrPrefix: string): Promise<ApiKeyRecord> {
  const byId = /^\d+$/.test(idOrPrefix);
  // Key ids are Postgres integers: a longer number is neither an id nor a prefix (prefixes start with graft_).
  if (byId && Number(idOrPrefix) > MAX_KEY_ID) {
    throw new GraftError('BAD_INPUT', `API key id "${idOrPrefix}" is out of range (ids are 1..${MAX_KEY_ID}); list keys with \`graft keys list\``);
  }
  const row = await db
    .updateTable('api_keys')
    .set({ revoked_at: new Date() })
    .where(byId ? 'id' : 'prefix', '=', byId ? Number(idOrPrefix) : idOrPrefix)
    .where('revoked_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
  if (!row) throw new GraftError('NOT_FOUND', `no active API key "${idOrPrefix}"; list keys with \`graft keys list\``);
  return toRecord(row);
}

function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

function toRecord(row: { id: number; name: string; role: Role; prefix: string; created_at: Date; last_used_at: Date | null; revoked_at: Date | null }): ApiKeyRecord {
  return { id: row.id, name: row.name, role: row.role, prefix: row.prefix, createdAt: row.created_at, lastUsedAt: row.last_used_at, revokedAt: row.revoked_at };
}
