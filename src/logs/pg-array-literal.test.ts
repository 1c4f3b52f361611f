import { describe, expect, it } from 'vitest';
import { numberArrayLiteral, textArrayLiteral } from './pg-array-literal.js';

describe('pg array literals', () => {
  it('quotes and escapes text elements', () => {
    expect(textArrayLiteral(['a', 'b,c', 'say "hi"', 'back\\slash', ''])).toBe('{"a","b,c","say \\"hi\\"","back\\\\slash",""}');
  });
  it('joins numbers', () => {
    expect(numberArrayLiteral([1, -2.5, 3])).toBe('{1,-2.5,3}');
    expect(numberArrayLiteral(new Int32Array(0))).toBe('{}');
  });
});
