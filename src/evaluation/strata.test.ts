import { describe, expect, it } from 'vitest';
import { DEFAULT_STRATA, assignStrata, strataLabel } from './strata.js';

describe('strata', () => {
  it('labels the default ranges', () => {
    expect(DEFAULT_STRATA.map(strataLabel)).toEqual(['0', '1-2', '3-5', '6-20', '>20']);
  });

  it('assigns each count to the first range holding it, -1 outside every range', () => {
    expect(Array.from(assignStrata(Int32Array.of(0, 1, 2, 3, 5, 6, 20, 21, 500), DEFAULT_STRATA))).toEqual([0, 1, 1, 2, 2, 3, 3, 4, 4]);
    expect(Array.from(assignStrata(Int32Array.of(0, 4, 9), [[1, 5]]))).toEqual([-1, 0, -1]);
    expect(() => assignStrata(Int32Array.of(1), [[5, 1]])).toThrow(/inclusive/);
  });
});
