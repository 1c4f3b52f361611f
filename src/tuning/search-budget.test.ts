import { describe, expect, it } from 'vitest';
import { formatSearchBudget, parseSearchBudget } from './search-budget.js';

describe('parseSearchBudget', () => {
  it('reads trials and times', () => {
    expect(parseSearchBudget('24')).toEqual({ kind: 'trials', trials: 24 });
    expect(parseSearchBudget(8)).toEqual({ kind: 'trials', trials: 8 });
    expect(parseSearchBudget('10m')).toEqual({ kind: 'minutes', minutes: 10 });
    expect(parseSearchBudget(' 90s ')).toEqual({ kind: 'minutes', minutes: 1.5 });
    expect(parseSearchBudget('2h')).toEqual({ kind: 'minutes', minutes: 120 });
    expect(formatSearchBudget(parseSearchBudget('90s'))).toBe('1.5m');
    expect(formatSearchBudget(parseSearchBudget('24'))).toBe('24');
  });

  it('refuses anything else, naming the value and the fix', () => {
    for (const bad of ['0', '-3', '2.5', 'ten', '10 minutes', '', '0m', 0, 1.5]) {
      expect(() => parseSearchBudget(bad as string)).toThrow(/budget .* is neither a number of trials .* use e\.g\. --budget 10m/);
    }
  });
});
