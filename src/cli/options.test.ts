import { describe, expect, it } from 'vitest';
import { intList, oneOf, positiveInt, unitInterval } from './options.js';
import { splitFromOptions } from './split-options.js';

describe('CLI option parsing', () => {
  it('parses lists and numbers, and names the bad value and the fix', () => {
    expect(intList('layers')('128, 64')).toEqual([128, 64]);
    expect(() => intList('layers')('128,,64')).toThrow('layers "128,,64" is not a comma-separated list of positive integers; use e.g. 128,64');
    expect(() => positiveInt('epochs')('0')).toThrow('epochs "0" is not a positive integer');
    expect(unitInterval('replay-weight')('0.3')).toBe(0.3);
    expect(() => unitInterval('replay-weight')('1.5')).toThrow(/from 0 to 1/);
    expect(oneOf('protocol', ['full', 'sampled'] as const)('FULL')).toBe('full');
    expect(() => oneOf('protocol', ['full', 'sampled'] as const)('auc')).toThrow('protocol "auc" is not one of full, sampled');
  });

  it('maps --split and --test-file to a split spec', () => {
    expect(splitFromOptions({ split: 'loo', format: 'tsv' })).toEqual({ kind: 'leave-one-out', mode: 'last' });
    expect(splitFromOptions({ split: 'temporal:3', format: 'tsv' })).toEqual({ kind: 'temporal', lastN: 3 });
    expect(splitFromOptions({ split: 'none', format: 'tsv' })).toEqual({ kind: 'none' });
    expect(splitFromOptions({ split: 'loo', testFile: 't.csv', format: 'csv' })).toEqual({ kind: 'file', path: 't.csv', format: 'csv' });
    expect(() => splitFromOptions({ split: 'temporal:0', format: 'tsv' })).toThrow(/--split "temporal:0" is unknown; use loo, temporal:N/);
  });
});
