import { describe, expect, it } from 'vitest';
import { BadValue, parseFeatures, parseKind, parseTags, parseTime, parseWeight } from './value-parsers.js';

describe('parseTime', () => {
  it.each([
    ['2024-03-01T10:00:00Z', Date.UTC(2024, 2, 1, 10)],
    ['2024-02-29T23:59:59.999Z', Date.UTC(2024, 1, 29, 23, 59, 59, 999)],
    ['2024-03-01T10:00:00', Date.UTC(2024, 2, 1, 10)], // no offset: UTC, whatever the machine's zone
    ['2024-03-01 10:00', Date.UTC(2024, 2, 1, 10)],
    ['2024-03-01', Date.UTC(2024, 2, 1)],
    ['2024-03-01T10:00:00.250+01:00', Date.UTC(2024, 2, 1, 9, 0, 0, 250)],
    ['2024-03-01T10:00:00+0130', Date.UTC(2024, 2, 1, 8, 30)],
    ['2024-03-01T10:00:00-05', Date.UTC(2024, 2, 1, 15)],
    ['1709287200', 1709287200000], // seconds
    ['1709287200.5', 1709287200500],
    ['1709287200123', 1709287200123], // milliseconds
    [1709287200, 1709287200000],
  ])('reads %s', (text, ms) => {
    expect(parseTime(text).getTime()).toBe(ms);
  });
  it.each(['', 'yesterday', '2024-13-01', '2024-02-30', '01/03/2024', '2024-03-01T25:00:00Z', '2023-02-29T00:00:00Z', '2024-03-01T10:00:00.12xZ', '0099-01-01'])('rejects %j', (text) => {
    expect(() => parseTime(text)).toThrow(BadValue);
  });
});

describe('other field parsers', () => {
  it('weights are decimals', () => {
    expect(parseWeight('0.5')).toBe(0.5);
    expect(parseWeight('-2e1')).toBe(-20);
    expect(parseWeight(3)).toBe(3);
    for (const bad of ['', ' ', 'abc', '0x10', 'Infinity', '1,5']) expect(() => parseWeight(bad)).toThrow(/use a decimal/);
  });
  it('tags split on | and ; and drop blanks', () => {
    expect(parseTags('a| b ;c;;')).toEqual(['a', 'b', 'c']);
    expect(parseTags(['x', ' y '])).toEqual(['x', 'y']);
    expect(parseTags('')).toEqual([]);
  });
  it('kinds and features', () => {
    expect(parseKind('rating')).toBe('rating');
    expect(() => parseKind('like')).toThrow(/use one of view, click, purchase, rating/);
    expect(parseFeatures('{"a":1}')).toEqual({ a: 1 });
    expect(parseFeatures('')).toBeUndefined();
    expect(() => parseFeatures('[1]')).toThrow(/not a JSON object/);
  });
});
