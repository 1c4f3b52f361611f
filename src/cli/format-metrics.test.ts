import { describe, expect, it } from 'vitest';
import { formatTopShare } from './format-metrics.js';

describe('formatTopShare', () => {
  it("names each tower's share of the hybrid's top, and reads a model stored with one share for both", () => {
    expect(formatTopShare({ user: 0.125, item: 0.03125 }, 1)).toBe("top: 1 epoch; the user tower's at 1/8, the item tower's at 1/32, chosen on the validation carve");
    expect(formatTopShare({ user: 1, item: 0 }, 3)).toBe("top: 3 epochs; the user tower's at 1 (as trained), the item tower's at 0 (its ID row alone), chosen on the validation carve");
    expect(formatTopShare(0.25, 2)).toBe("top: 2 epochs, both towers' at 1/4, chosen on the validation carve");
  });
});
