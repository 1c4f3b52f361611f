import { describe, expect, it } from 'vitest';
import { isGraftError } from '../errors.js';
import { ItemCatalogue } from './item-catalogue.js';
import { compileExclusion, validateFilter } from './item-filter.js';

const catalogue = ItemCatalogue.fromRows([
  { id: 30, externalId: 'c', tags: ['red', 'sale'] },
  { id: 10, externalId: 'a', tags: ['red'] },
  { id: 20, externalId: 'b', tags: ['blue'] },
  { id: 40, externalId: 'd', tags: [] },
]);
const allowed = (exclude: ((p: number) => boolean) | undefined) =>
  Array.from(catalogue.externalIds).filter((_, p) => exclude === undefined || !exclude(p));

describe('ItemCatalogue', () => {
  it('orders positions by item id and finds items both ways', () => {
    expect(Array.from(catalogue.itemIds)).toEqual([10, 20, 30, 40]);
    expect(catalogue.positionOfItem(30)).toBe(2);
    expect(catalogue.positionOfItem(25)).toBe(-1);
    expect(catalogue.positionOfExternalId('d')).toBe(3);
    expect(catalogue.positionOfExternalId('zz')).toBe(-1);
    expect(catalogue.tagCount).toBe(3);
  });
});

describe('compileExclusion', () => {
  it('excludes nothing (and costs nothing) without a filter or history', () => {
    expect(compileExclusion(catalogue, null, [])).toBeUndefined();
    expect(compileExclusion(catalogue, { tagsAny: [], tagsNone: null }, [])).toBeUndefined();
  });

  it('applies seen items, excluded ids, tagsAny and tagsNone together', () => {
    expect(allowed(compileExclusion(catalogue, null, [0]))).toEqual(['b', 'c', 'd']);
    expect(allowed(compileExclusion(catalogue, { excludeItemIds: ['b', 'not-in-catalogue'] }, []))).toEqual(['a', 'c', 'd']);
    expect(allowed(compileExclusion(catalogue, { tagsAny: ['red', 'unknown'] }, []))).toEqual(['a', 'c']);
    expect(allowed(compileExclusion(catalogue, { tagsNone: ['sale', 'unknown'] }, []))).toEqual(['a', 'b', 'd']);
    expect(allowed(compileExclusion(catalogue, { tagsAny: ['red'], tagsNone: ['sale'] }, []))).toEqual(['a']);
    expect(allowed(compileExclusion(catalogue, { tagsAny: ['nothing-has-this'] }, []))).toEqual([]);
  });

  it('rejects malformed filters with BAD_INPUT naming the field', () => {
    expect(() => validateFilter({ tagsAny: 'red' as unknown as string[] })).toThrow(/filter.tagsAny must be a list of strings/);
    let error: unknown;
    try {
      validateFilter({ excludeItemIds: Array.from({ length: 1001 }, (_, i) => `x${i}`) });
    } catch (e) {
      error = e;
    }
    expect(isGraftError(error, 'BAD_INPUT')).toBe(true);
    expect(() => validateFilter({ tagsNone: ['ok'], excludeItemIds: null })).not.toThrow();
  });
});
