import { EVENT_KINDS, type EventKind } from '../db/tables/event.table.js';

/**
 * Field parsers for imported files. Each returns the value or throws a `BadValue` whose
 * message says what is wrong and how to fix it; the caller adds `FILE:LINE: `.
 */
export class BadValue extends Error {}

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const UNIX = /^-?\d+(?:\.\d+)?$/;
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?(Z|z|([+-])(\d{2})(?::?(\d{2}))?)?)?$/;
const KINDS: ReadonlySet<string> = new Set(EVENT_KINDS);

export function parseId(value: unknown, column: 'user' | 'item'): string {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (value === undefined) throw new BadValue(`${column} id is missing; every row needs a ${column} id`);
  if (typeof value !== 'string' || isBlank(value)) {
    throw new BadValue(`${column} id ${JSON.stringify(value ?? null)} is empty; every row needs a ${column} id`);
  }
  return value;
}

/** Cheaper than `trim() === ''` on the common case: only strings starting with whitespace are trimmed. */
export function isBlank(text: string): boolean {
  return text.length === 0 || (text.charCodeAt(0) <= 32 && text.trim() === '');
}

export function parseWeight(value: unknown): number {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (value === '1') return 1; // the usual implicit-feedback weight; skips the regex
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
  else if (typeof value === 'string') ms = UNIX.test(value) ? unixToMs(Number(value)) : isoToMs(value);
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

/** `YYYY-MM-DDTHH:MM:SS[.fff]Z`, the form most exports use, read without a regex; undefined for anything else. */
function canonicalIsoToMs(t: string): number | undefined {
  const n = t.length;
  if ((n !== 20 && n !== 24) || t.charCodeAt(n - 1) !== 90 /* Z */ || t.charCodeAt(10) !== 84 /* T */) return undefined;
  if (t.charCodeAt(4) !== 45 || t.charCodeAt(7) !== 45 || t.charCodeAt(13) !== 58 || t.charCodeAt(16) !== 58) return undefined;
  const year = digits(t, 0, 4);
  const month = digits(t, 5, 2);
  const day = digits(t, 8, 2);
  const hour = digits(t, 11, 2);
  const minute = digits(t, 14, 2);
  const second = digits(t, 17, 2);
  let ms = 0;
  if (n === 24) {
    if (t.charCodeAt(19) !== 46 /* . */) return undefined;
    ms = digits(t, 20, 3);
  }
  if ((year | month | day | hour | minute | second | ms) < 0) return undefined;
  if (!validDateTime(year, month, day, hour, minute, second)) return Number.NaN;
  return Date.UTC(year, month - 1, day, hour, minute, second, ms);
}

/** The number written by `count` ASCII digits at `at`, or -1. */
function digits(t: string, at: number, count: number): number {
  let v = 0;
  for (let i = 0; i < count; i++) {
    const d = t.charCodeAt(at + i) - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

function validDateTime(year: number, month: number, day: number, hour: number, minute: number, second: number): boolean {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (year < 100 || month < 1 || month > 12 || day < 1 || day > (month === 2 && !leap ? 28 : DAYS_IN_MONTH[month - 1]!)) return false;
  return hour <= 23 && minute <= 59 && second <= 59;
}

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Milliseconds of an ISO 8601 date or date-time, NaN when malformed or out of range
 * (2024-02-30, 25:00). Done by hand: `Date.parse` is slow at a million rows, reads a
 * time without offset as local time, and rolls Feb 30 over into March.
 */
function isoToMs(text: string): number {
  const fast = canonicalIsoToMs(text);
  if (fast !== undefined) return fast;
  const m = ISO.exec(text);
  if (!m) return Number.NaN;
  const year = +m[1]!;
  const month = +m[2]!;
  const day = +m[3]!;
  const hour = m[4] === undefined ? 0 : +m[4];
  const minute = m[5] === undefined ? 0 : +m[5];
  const second = m[6] === undefined ? 0 : +m[6];
  const fraction = m[7] === undefined ? 0 : Math.round(Number(`0.${m[7]}`) * 1000);
  if (!validDateTime(year, month, day, hour, minute, second)) return Number.NaN;
  let offsetMinutes = 0;
  if (m[9] !== undefined) {
    const oh = +m[10]!;
    const om = m[11] === undefined ? 0 : +m[11];
    if (oh > 23 || om > 59) return Number.NaN;
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  return Date.UTC(year, month - 1, day, hour, minute, second, fraction) - offsetMinutes * 60_000;
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
