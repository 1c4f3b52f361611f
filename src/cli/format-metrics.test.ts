import { describe, expect, it } from 'vitest';
import { formatTopShare } from './format-metrics.js';

describe('formatTopShare', () => {
  it("names each tower's share of the hybrid's top, and reads a model stored with one share for both", () => {
    expect(formatTopShare({ bestEpoch: 1, topShare: { user: 0.125, item: 0.03125 } })).toBe("top: 1 epoch; the user tower's at 1/8, the item tower's at 1/32, chosen on the validation carve");
    expect(formatTopShare({ bestEpoch: 3, topShare: { user: 1, item: 0 } })).toBe("top: 3 epochs; the user tower's at 1 (as trained), the item tower's at 0 (its ID row alone), chosen on the validation carve");
    expect(formatTopShare({ bestEpoch: 2, topShare: 0.25 })).toBe("top: 2 epochs, both towers' at 1/4, chosen on the validation carve");
  });
});
