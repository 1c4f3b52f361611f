import { describe, expect, it } from 'vitest';
import type { EventRecord } from './event-record.js';
import { eventProblem, itemProblem, MAX_FUTURE_MS, MAX_ID_LENGTH, textProblem, validateEvents } from './record-validator.js';

const NOW = Date.UTC(2026, 0, 1);
const ok: EventRecord = { user: 'u1', item: 'i1', weight: 1, time: new Date(NOW - 1000), kind: 'view' };
const problem = (change: Partial<EventRecord>, policy = {}) => eventProblem({ ...ok, ...change }, { now: NOW, ...policy });

describe('record validator', () => {
  it('accepts an ordinary event, times from 1970 to a day ahead, and ids at the limit', () => {
    expect(problem({})).toBeUndefined();
    expect(problem({ time: new Date(0) })).toBeUndefined();
    expect(problem({ time: new Date(NOW + MAX_FUTURE_MS) })).toBeUndefined();
    expect(problem({ user: 'é'.repeat(MAX_ID_LENGTH), item: '\u{1F600}' })).toBeUndefined();
  });
  it('names the field and the fix for each kind of bad value', () => {
    expect(problem({ user: 'a\u0000b' })).toMatch(/^user id "a\\u0000b" contains a NUL character/);
    expect(problem({ item: 'x\ud800' })).toMatch(/^item id "x\\ud800" is not valid Unicode/);
    expect(problem({ item: 'i'.repeat(MAX_ID_LENGTH + 1) })).toMatch(/^item id "i{20}"\.\.\. is 501 characters long, more than the 500 allowed/);
    expect(problem({ weight: 0 })).toMatch(/^weight 0 is not positive; .*--allow-non-positive-weights/);
    expect(problem({ weight: -0.5 })).toMatch(/^weight -0\.5 is not positive/);
    expect(problem({ weight: 2e6 })).toMatch(/^weight 2000000 is outside/);
    expect(problem({ time: new Date(NOW + MAX_FUTURE_MS + 1) })).toMatch(/^time 2026-01-02T00:00:00\.001Z is more than a day in the future/);
    expect(problem({ time: new Date(-1000) })).toMatch(/^time 1969-12-31T23:59:59\.000Z is before 1970-01-01/);
  });
  it('allows weights <= 0 only when asked, and never beyond the range', () => {
    expect(problem({ weight: 0 }, { allowNonPositiveWeights: true })).toBeUndefined();
    expect(problem({ weight: -3 }, { allowNonPositiveWeights: true })).toBeUndefined();
    expect(problem({ weight: -2e6 }, { allowNonPositiveWeights: true })).toMatch(/outside/);
  });
  it('recognises a time a thousand times too large (unix ms taken for seconds) and says what it would be', () => {
    const meant = Date.UTC(2025, 5, 1);
    expect(problem({ time: new Date(meant * 1000) })).toMatch(/looks like unix milliseconds read as seconds .* a thousand times smaller it is 2025-06-01T00:00:00\.000Z/);
    expect(eventProblem({ ...ok, time: new Date(99999999999 * 1000) }, { now: NOW }, '99999999999')).toMatch(/^time "99999999999" \(5138-11-16T09:46:39\.000Z\)/);
  });
  it('checks catalogue records: title, tags and features', () => {
    expect(itemProblem({ item: 'a', title: 'Ball', tags: ['x'], features: { p: 1 } })).toBeUndefined();
    expect(itemProblem({ item: 'a', tags: Array.from({ length: 101 }, (_, i) => `t${i}`) })).toMatch(/101 tags are more than the 100/);
    expect(itemProblem({ item: 'a', tags: ['t'.repeat(101)] })).toMatch(/^tag "t{20}"\.\.\. is 101 characters long/);
    expect(itemProblem({ item: 'a', features: { ['k\u0000']: 1 } })).toMatch(/features .* contain a NUL character/);
    expect(itemProblem({ item: 'a', features: { big: 'x'.repeat(70_000) } })).toMatch(/more than the 65,536 allowed/);
  });
  it('textProblem passes ordinary text; validateEvents numbers events from the offset', () => {
    expect(textProblem('title', 'Käse \u{1F9C0}', 10)).toBeUndefined();
    expect(() => validateEvents([ok, { ...ok, weight: 0 }], 10, { now: NOW })).toThrow(/^event #12: weight 0 is not positive.*; nothing was imported$/);
  });
});
