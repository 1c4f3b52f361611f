import { EVENT_KINDS, type EventKind } from '../db/tables/event.table.js';

/**
 * Field parsers for imported files. Each returns the value or throws a `BadValue` whose
 * message says what is wrong and how to fix it; the caller adds `FILE:LINE: `.
 */
export class BadValue extends Error {}

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const UNIX = /^-?\d+(?:\.\d+)?$/;
const ISO = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)(Z|z|[+-]\d{2}(?::?\d{2})?)?)?$/;
const KINDS: ReadonlySet<string> = new Set(EVENT_KINDS);

export function parseId(value: unknown, column: 'user' | 'item'): string {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (value === undefined) throw new BadValue(`${column} id is missing; every row needs a ${column} id`);
  if (typeof value !== 'string' || value.trim() === '') {
    throw new BadValue(`${column} id ${JSON.stringify(value ?? null)} is empty; every row needs a ${column} id`);
  }
  return value;
}

export function parseWeight(value: unknown): number {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && DECIMAL.test(value)) {
    const w = Number(value);
    if (Number.isFinite(w)) return w;
  }
  throw new BadValue(`weight ${JSON.stringify(value ?? null)} is not a number; use a decimal such as 1 or 0.5`);
}

/**
 * ISO 8601 (a time without an offset is read as UTC, so imports do not depend on the
 * machine's time zone) or unix time: below 1e11 it is seconds (until the year 5138),
 * otherwise milliseconds.
 */
export function parseTime(value: unknown): Date {
  let ms = Number.NaN;
  if (typeof value === 'number') ms = unixToMs(value);
  else if (typeof value === 'string') {
    if (UNIX.test(value)) ms = unixToMs(Number(value));
    else {
      const m = ISO.exec(value);
      if (m) {
        const [, date, time, zone] = m;
        if (time === undefined) ms = Date.parse(`${date}T00:00:00Z`);
        else ms = Date.parse(`${date}T${time.replace(',', '.')}${normaliseZone(zone)}`);
        if (!Number.isNaN(ms) && !sameCalendarDate(date!, ms, zone)) ms = Number.NaN;
      }
    }
  }
  if (!Number.isFinite(ms)) {
    throw new BadValue(
      `time ${JSON.stringify(value ?? null)} is not ISO 8601 or unix seconds/milliseconds; use e.g. 2024-03-01T10:00:00Z or 1709287200`,
    );
  }
  return new Date(ms);
}

function unixToMs(n: number): number {
  return Math.abs(n) < 1e11 ? Math.round(n * 1000) : n;
}

function normaliseZone(zone: string | undefined): string {
  if (zone === undefined || zone === 'z' || zone === 'Z') return 'Z';
  if (zone.length === 3) return `${zone}:00`; // +01
  if (zone.length === 5) return `${zone.slice(0, 3)}:${zone.slice(3)}`; // +0100
  return zone;
}

/** Rejects 2024-02-30 and friends, which Date.parse would roll over into March. */
function sameCalendarDate(date: string, ms: number, zone: string | undefined): boolean {
  if (zone !== undefined && zone !== 'Z' && zone !== 'z') return true; // offset shifts the UTC date; the regex bounded the fields
  return new Date(ms).toISOString().slice(0, 10) === date;
}

export function parseKind(value: unknown): EventKind {
  if (typeof value === 'string' && KINDS.has(value)) return value as EventKind;
  throw new BadValue(`kind ${JSON.stringify(value ?? null)} is unknown; use one of ${EVENT_KINDS.join(', ')} (or --kind for the whole file)`);
}

/** Tags separated by `|` or `;` in a text field, or a JSON array of strings. */
export function parseTags(value: unknown): string[] {
  if (Array.isArray(value) && value.every((t) => typeof t === 'string')) return value.map((t: string) => t.trim()).filter((t) => t !== '');
  if (typeof value === 'string') return value.split(/[|;]/).map((t) => t.trim()).filter((t) => t !== '');
  throw new BadValue(`tags ${JSON.stringify(value)} are not a list; separate tags with | or ; (e.g. outdoor|running) or use a JSON array`);
}

/** A JSON object, as an object (jsonl) or as text (tsv/csv). Empty text means "no features given". */
export function parseFeatures(value: unknown): Record<string, unknown> | undefined {
  let parsed = value;
  if (typeof value === 'string') {
    if (value.trim() === '') return undefined;
    try {
      parsed = JSON.parse(value);
    } catch {
      parsed = undefined;
    }
  }
  if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  throw new BadValue(`features ${JSON.stringify(value)} are not a JSON object; write them as {"price": 9.5}`);
}

/** A title; an empty field means "no title" (null). */
export function parseTitle(value: unknown): string | null {
  if (value === null || value === undefined || value === '') return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  throw new BadValue(`title ${JSON.stringify(value)} is not text; write it as a string`);
}
