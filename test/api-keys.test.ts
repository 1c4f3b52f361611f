import { expect, it } from 'vitest';
import { authenticateApiKey, createApiKey, listApiKeys, parseRole, revokeApiKey, roleAllows } from '../src/auth/index.js';
import { describeEachStorage } from './support/databases.js';

describeEachStorage('API keys', (ctx) => {
  it('shows a key once, stores only its hash, authenticates it, and refuses it once revoked', async () => {
    const db = ctx.db.db;
    const { key, record } = await createApiKey(db, { name: 'shop frontend', role: 'APP' });
    expect(key).toMatch(/^graft_[A-Za-z0-9]{8}_[A-Za-z0-9_-]{43}$/);
    expect(key.startsWith(`graft_${record.prefix}_`)).toBe(true);
    const stored = await db.selectFrom('api_keys').selectAll().where('id', '=', record.id).executeTakeFirstOrThrow();
    expect(stored.key_hash).not.toContain(key.slice(15));
    expect(stored.key_hash).toMatch(/^[0-9a-f]{64}$/);

    const who = await authenticateApiKey(db, key);
    expect(who).toMatchObject({ id: record.id, name: 'shop frontend', role: 'APP' });
    expect((await listApiKeys(db)).find((k) => k.id === record.id)!.lastUsedAt).not.toBeNull();

    const other = await createApiKey(db, { name: 'admin', role: 'ADMIN' });
    expect(other.key).not.toBe(key);
    await revokeApiKey(db, record.prefix);
    await expect(authenticateApiKey(db, key)).rejects.toThrow(/was revoked/);
    expect((await authenticateApiKey(db, other.key)).role).toBe('ADMIN');
  });

  it('rejects malformed and unknown keys without echoing them, and bad names', async () => {
    const db = ctx.db.db;
    await expect(authenticateApiKey(db, 'hunter2')).rejects.toThrow(/malformed.*graft keys create/);
    const forged = `graft_AAAAAAAA_${'x'.repeat(43)}`;
    const error = await authenticateApiKey(db, forged).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/not known/);
    expect((error as Error).message).not.toContain('x'.repeat(43));
    await expect(createApiKey(db, { name: '  ', role: 'APP' })).rejects.toThrow(/name is empty/);
    await expect(revokeApiKey(db, '999999')).rejects.toThrow(/no active API key/);
  });
});

it('orders roles: ADMIN > ANALYST > APP', () => {
  expect(roleAllows('ADMIN', 'ANALYST')).toBe(true);
  expect(roleAllows('ANALYST', 'APP')).toBe(true);
  expect(roleAllows('ANALYST', 'ADMIN')).toBe(false);
  expect(roleAllows('APP', 'ANALYST')).toBe(false);
  expect(parseRole('analyst')).toBe('ANALYST');
  expect(() => parseRole('root')).toThrow(/role "root" is unknown; use one of APP, ANALYST, ADMIN/);
});
