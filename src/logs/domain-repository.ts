import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import { GraftError } from '../errors.js';

/** Same rule as the `domains.name` check constraint, so a bad name fails with a message, not a constraint error. */
const DOMAIN_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

export function assertDomainName(name: string): void {
  const problem = domainNameProblem(name);
  if (problem) throw new GraftError('BAD_INPUT', problem);
}

/** Why `name` cannot be a domain name, or undefined when it can. */
export function domainNameProblem(name: unknown): string | undefined {
  if (typeof name === 'string' && DOMAIN_NAME.test(name)) return undefined;
  const shown = typeof name === 'string' && name.length > 80 ? `${name.slice(0, 80)}...` : name;
  return `domain name ${JSON.stringify(shown ?? null)} is not allowed; use 1-63 letters, digits, "_", "." or "-", starting with a letter or digit (e.g. "sport")`;
}

/** The id of the named domain, or undefined when it does not exist. */
export async function findDomainId(db: Db, name: string): Promise<number | undefined> {
  const row = await db.selectFrom('domains').select('id').where('name', '=', name).executeTakeFirst();
  return row?.id;
}

/** The id of the named domain, created if missing (safe against a concurrent creator). */
export async function ensureDomain(db: Db, name: string): Promise<number> {
  assertDomainName(name);
  await sql`insert into domains (name) values (${name}) on conflict (name) do nothing`.execute(db);
  const id = await findDomainId(db, name);
  if (id === undefined) throw new GraftError('INTERNAL', `domain "${name}" vanished right after it was created; retry the import`);
  return id;
}
