import { sql } from 'kysely';
import type { Db } from '../db/database.js';

/**
 * Postgres channel told about new behaviour events once their transaction commits, so serving
 * processes drop what they cached of those users (their history and rankings with seen items
 * excluded). Payload: `{"domain": "cloth", "users": ["u1", ...]}`; without `users` (bulk
 * imports, or more ids than fit a notification) every user of the domain is affected.
 */
export const EVENTS_CHANNEL = 'graft_events_recorded';

/** Postgres caps a payload at 8,000 bytes: above this many characters the whole domain is named instead. */
const MAX_PAYLOAD = 7_000;

export interface EventsNotification {
  domain: string;
  /** External user ids; absent = every user of the domain. */
  users?: string[];
}

/** Queues the notification in `trx` (delivered at commit, never for a rolled-back transaction). */
export async function notifyEventsRecorded(trx: Db, domain: string, users?: Iterable<string>): Promise<void> {
  let payload = JSON.stringify({ domain, ...(users ? { users: [...new Set(users)] } : {}) } satisfies EventsNotification);
  if (payload.length > MAX_PAYLOAD) payload = JSON.stringify({ domain } satisfies EventsNotification);
  await sql`select pg_notify(${EVENTS_CHANNEL}, ${payload})`.execute(trx);
}

/** Reads a payload of EVENTS_CHANNEL; undefined for anything malformed. */
export function parseEventsNotification(payload: string): EventsNotification | undefined {
  try {
    const value = JSON.parse(payload) as { domain?: unknown; users?: unknown };
    if (typeof value.domain !== 'string') return undefined;
    if (value.users === undefined) return { domain: value.domain };
    if (!Array.isArray(value.users) || value.users.some((u) => typeof u !== 'string')) return undefined;
    return { domain: value.domain, users: value.users as string[] };
  } catch {
    return undefined;
  }
}
