import { EVENT_KINDS } from '../db/tables/event.table.js';
import { GraftError } from '../errors.js';
import type { EventRecord, ItemRecord } from './event-record.js';

/**
 * What the logs accept, stated once: the importer (`FILE:LINE: ...`), `ingestEvents`,
 * `ingestItems` and `recordEvents` (`event #N: ...`, hence GraphQL and the CLI) all check
 * records here, so nothing Postgres would reject or silently change gets that far.
 */

/**
 * Longest user or item id, in characters (UTF-16 code units). 500 characters are at most
 * 2,000 bytes of UTF-8, under the 2,704 bytes a btree index entry may hold (ids are indexed).
 */
export const MAX_ID_LENGTH = 500;
/** Longest item title, in characters. */
export const MAX_TITLE_LENGTH = 1_000;
/** Most tags one item may have, and the longest tag in characters. */
export const MAX_TAGS_PER_ITEM = 100;
export const MAX_TAG_LENGTH = 100;
/** Longest item `features` object, as JSON text in characters. */
export const MAX_FEATURES_JSON_LENGTH = 65_536;
/** Largest event weight (a rating, count or dwell time fits; 1e308 overflows the sums training makes). */
export const MAX_EVENT_WEIGHT = 1e6;
/** Latest accepted event time: this far after the clock of the importing process (clock skew between machines). */
export const MAX_FUTURE_MS = 24 * 60 * 60 * 1000;
/** Earliest accepted event time: 1970-01-01T00:00:00Z. Earlier ones are unix times gone wrong, not behaviour. */
export const MIN_EVENT_TIME_MS = 0;

/** How records are checked beyond their types. */
export interface RecordPolicy {
  /**
   * Accept weights <= 0 (default false: they are rejected). What they do in training: a
   * 0 weight keeps the event in the user's history but adds nothing to the loss, and
   * implicit ALS drops the pair; a negative weight pushes the item away in softmax training
   * (a batch whose weights sum to <= 0 fails), and implicit ALS fails on a (user, item)
   * pair whose weights sum below 0.
   */
  allowNonPositiveWeights?: boolean;
  /** The clock for "in the future"; default `Date.now()` at the check. */
  now?: number;
  /**
   * Latest accepted time in ms; default `now + MAX_FUTURE_MS`. A file import without a time
   * column raises it for its own synthetic times (import time + line number in ms).
   */
  latestTime?: number;
}

const KINDS: ReadonlySet<string> = new Set(EVENT_KINDS);
/** With the `u` flag a surrogate matches only when unpaired: text that cannot be written as UTF-8. */
const LONE_SURROGATE = /[\ud800-\udfff]/u;

/**
 * What is wrong with a piece of text the database will store, or undefined: NUL (Postgres
 * text cannot hold it), unpaired surrogates (not Unicode; they would be stored as U+FFFD),
 * or more than `max` characters.
 */
export function textProblem(what: string, value: string, max: number): string | undefined {
  if (value.length > max) {
    return `${what} ${quote(value.slice(0, 20))}... is ${value.length.toLocaleString('en-US')} characters long, more than the ${max.toLocaleString('en-US')} allowed; shorten it`;
  }
  if (value.indexOf('\0') !== -1) return `${what} ${quote(value)} contains a NUL character (\\0), which cannot be stored; remove it`;
  if (LONE_SURROGATE.test(value)) return `${what} ${quote(value)} is not valid Unicode (an unpaired surrogate); write it as UTF-8 text`;
  return undefined;
}

/** What is wrong with one event, or undefined. `rawTime` is the time as written (a file's field), for the message. */
export function eventProblem(e: EventRecord, policy: RecordPolicy = {}, rawTime?: unknown): string | undefined {
  if (typeof e.user !== 'string' || e.user === '') return `user ${JSON.stringify(e.user)} is not a non-empty string; give every event a user id`;
  if (typeof e.item !== 'string' || e.item === '') return `item ${JSON.stringify(e.item)} is not a non-empty string; give every event an item id`;
  const id = textProblem('user id', e.user, MAX_ID_LENGTH) ?? textProblem('item id', e.item, MAX_ID_LENGTH);
  if (id) return id;
  return weightProblem(e.weight, policy) ?? timeProblem(e.time, policy, rawTime) ?? kindProblem(e.kind);
}

function weightProblem(weight: number, policy: RecordPolicy): string | undefined {
  if (typeof weight !== 'number' || !Number.isFinite(weight)) return `weight ${String(weight)} is not a finite number; use a number such as 1 or 0.5`;
  if (weight > MAX_EVENT_WEIGHT || weight < -MAX_EVENT_WEIGHT) {
    return `weight ${weight} is outside -${MAX_EVENT_WEIGHT} .. ${MAX_EVENT_WEIGHT}; rescale the weights (e.g. log of a count)`;
  }
  if (weight <= 0 && !policy.allowNonPositiveWeights) {
    return (
      `weight ${weight} is not positive; a weight says how much an interaction counts (use e.g. 1, or 0.5 for a weak signal), ` +
      `or allow weights <= 0 explicitly (--allow-non-positive-weights, { allowNonPositiveWeights: true }): ` +
      `0 then adds nothing to training, a negative weight pushes the item away`
    );
  }
  return undefined;
}

function timeProblem(time: Date, policy: RecordPolicy, rawTime: unknown): string | undefined {
  if (!(time instanceof Date) || Number.isNaN(time.getTime())) return `time ${String(time)} is not a valid Date`;
  const ms = time.getTime();
  const shown = rawTime === undefined ? time.toISOString() : `${JSON.stringify(rawTime)} (${time.toISOString()})`;
  if (ms < MIN_EVENT_TIME_MS) {
    return `time ${shown} is before 1970-01-01; give the time the event happened (ISO 8601 such as 2024-03-01T10:00:00Z, or unix seconds)`;
  }
  const now = policy.now ?? Date.now();
  const latest = policy.latestTime ?? now + MAX_FUTURE_MS;
  if (ms > latest) {
    const scaled = ms / 1000;
    const hint =
      scaled >= MIN_EVENT_TIME_MS && scaled <= latest
        ? `; it looks like unix milliseconds read as seconds (or microseconds as milliseconds): a thousand times smaller it is ${new Date(scaled).toISOString()}, so write milliseconds as 13 digits or ISO 8601`
        : '; give the time the event happened (ISO 8601 such as 2024-03-01T10:00:00Z, or unix seconds)';
    return `time ${shown} is more than a day in the future (now ${new Date(now).toISOString()})${hint}`;
  }
  return undefined;
}

function kindProblem(kind: string): string | undefined {
  return KINDS.has(kind) ? undefined : `kind "${kind}" is unknown; use one of ${EVENT_KINDS.join(', ')}`;
}

/** What is wrong with one catalogue record, or undefined. */
export function itemProblem(r: ItemRecord): string | undefined {
  if (typeof r.item !== 'string' || r.item === '') return `item ${JSON.stringify(r.item)} is not a non-empty string; give every item its external id`;
  const id = textProblem('item id', r.item, MAX_ID_LENGTH);
  if (id) return id;
  if (r.title !== undefined && r.title !== null) {
    if (typeof r.title !== 'string') return `title ${JSON.stringify(r.title)} is not a string; use a string or null`;
    const title = textProblem('title', r.title, MAX_TITLE_LENGTH);
    if (title) return title;
  }
  if (r.tags !== undefined) {
    if (!Array.isArray(r.tags) || r.tags.some((t) => typeof t !== 'string' || t === '')) {
      return `tags ${JSON.stringify(r.tags)} are not a list of non-empty strings; use e.g. ["outdoor", "running"]`;
    }
    if (r.tags.length > MAX_TAGS_PER_ITEM) return `${r.tags.length} tags are more than the ${MAX_TAGS_PER_ITEM} an item may have; keep the most telling ones`;
    for (const tag of r.tags) {
      const problem = textProblem('tag', tag, MAX_TAG_LENGTH);
      if (problem) return problem;
    }
  }
  if (r.features !== undefined) {
    if (r.features === null || typeof r.features !== 'object' || Array.isArray(r.features)) {
      return `features ${JSON.stringify(r.features)} are not an object; use e.g. {"price": 9.5}`;
    }
    // jsonb rejects \u0000 in strings and keys; JSON.stringify writes NUL and lone surrogates as escapes.
    const json = JSON.stringify(r.features);
    if (json.length > MAX_FEATURES_JSON_LENGTH) {
      return `features are ${json.length.toLocaleString('en-US')} characters of JSON, more than the ${MAX_FEATURES_JSON_LENGTH.toLocaleString('en-US')} allowed; keep the fields ranking needs`;
    }
    if (json.includes('\\u0000')) return `features ${quote(json)} contain a NUL character (\\u0000), which cannot be stored; remove it`;
    if (/\\ud[89a-f][0-9a-f]{2}/i.test(json)) return `features ${quote(json)} contain an unpaired surrogate (not valid Unicode); write them as UTF-8 text`;
  }
  return undefined;
}

/** Checks events from code (seeds, API, `recordEvents`); throws BAD_INPUT naming `event #N` (1-based, after `offset`) and the field. */
export function validateEvents(batch: readonly EventRecord[], offset: number, policy: RecordPolicy = {}, nothing = 'nothing was imported'): void {
  const now = policy.now ?? Date.now();
  const checked = { ...policy, now, latestTime: policy.latestTime ?? now + MAX_FUTURE_MS };
  for (let i = 0; i < batch.length; i++) {
    const problem = eventProblem(batch[i]!, checked);
    if (problem) throw new GraftError('BAD_INPUT', `event #${offset + i + 1}: ${problem}; ${nothing}`);
  }
}

/** Checks catalogue records from code; throws BAD_INPUT naming `item #N`. */
export function validateItems(batch: readonly ItemRecord[], offset: number): void {
  for (let i = 0; i < batch.length; i++) {
    const problem = itemProblem(batch[i]!);
    if (problem) throw new GraftError('BAD_INPUT', `item #${offset + i + 1}: ${problem}; nothing was imported`);
  }
}

/** A value for a message: JSON-quoted (NUL and control characters escaped), cut at 60 characters. */
function quote(value: string): string {
  return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}...` : value);
}
