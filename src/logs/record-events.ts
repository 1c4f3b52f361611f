import type { Db } from '../db/database.js';
import { GraftError } from '../errors.js';
import { findItemsByExternalIds, itemKey } from './item-repository.js';
import { domainNameProblem } from './domain-repository.js';
import type { EventRecord } from './event-record.js';
import { ExternalIdMap } from './external-id-map.js';
import { notifyEventsRecorded } from './events-notification.js';
import { insertEvents } from './ingest-events.js';
import { validateEvents, type RecordPolicy } from './record-validator.js';

/** Most events one `recordEvents` call takes; bigger loads go through `graft import`. */
export const MAX_RECORDED_EVENTS = 1000;

export interface RecordedEvent extends EventRecord {
  domain: string;
}

/**
 * Appends live behaviour events (what an app reports as users act), all-or-nothing in one
 * transaction. Checked like an import (`record-validator.ts`: ids, NUL, lengths, weights > 0
 * unless `policy.allowNonPositiveWeights`, times from 1970 to a day ahead), plus: the domain and the item must already exist
 * (an app reporting a misspelt item should hear about it, not create a ghost item);
 * users are created on first sight (new visitors are normal).
 *
 * @example
 * await recordEvents(db, [{ domain: 'cloth', user: 'u1', item: 'sku-9', kind: 'click', weight: 1, time: new Date() }]);
 */
export async function recordEvents(
  db: Db,
  events: readonly RecordedEvent[],
  policy: RecordPolicy = {},
): Promise<{ recorded: number; usersCreated: number }> {
  if (events.length === 0) return { recorded: 0, usersCreated: 0 };
  if (events.length > MAX_RECORDED_EVENTS) {
    throw new GraftError(
      'BAD_INPUT',
      `${events.length} events in one call is more than ${MAX_RECORDED_EVENTS}; split them into calls of at most ${MAX_RECORDED_EVENTS}, or import a file with \`graft import\``,
    );
  }
  validateEvents(events, 0, policy, 'nothing was recorded');
  for (let i = 0; i < events.length; i++) {
    const problem = domainNameProblem(events[i]!.domain);
    if (problem) throw new GraftError('BAD_INPUT', `event #${i + 1}: ${problem}; nothing was recorded`);
  }
  return db.transaction().execute(async (trx) => {
    const domainNames = [...new Set(events.map((e) => e.domain))];
    const domains = await trx.selectFrom('domains').select(['id', 'name']).where('name', 'in', domainNames).execute();
    const domainIds = new Map(domains.map((d) => [d.name, d.id]));
    for (let i = 0; i < events.length; i++) {
      const domain = events[i]!.domain;
      if (!domainIds.has(domain)) {
        throw new GraftError('NOT_FOUND', `event #${i + 1}: domain "${domain}" does not exist; import its catalogue or log first (\`graft import FILE --domain ${domain}\`); nothing was recorded`);
      }
    }
    const items = await findItemsByExternalIds(trx, events.map((e) => ({ domain: e.domain, id: e.item })));
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      if (!items.has(itemKey(e.domain, e.item))) {
        throw new GraftError('NOT_FOUND', `event #${i + 1}: item "${e.item}" is not in domain "${e.domain}"; import it first (\`graft import-items\`); nothing was recorded`);
      }
    }
    const users = new ExternalIdMap({ table: 'users' });
    await users.resolve(trx, events.map((e) => e.user));
    for (const [domain, domainId] of domainIds) {
      const batch = events.filter((e) => e.domain === domain);
      const itemIds = new ExternalIdMap({ table: 'items', domainId });
      await itemIds.resolve(trx, batch.map((e) => e.item));
      await insertEvents(trx, domainId, null, batch, users, itemIds);
      // Serving processes forget what they cached of these users once this commits.
      await notifyEventsRecorded(trx, domain, batch.map((e) => e.user));
    }
    return { recorded: events.length, usersCreated: users.created };
  });
}
