import { createRng } from '../dataset/random.js';

/**
 * Events for the implicit-ALS tests: Zipf-like items (item i drawn with probability about
 * 1 / (i + 5)); primary events from the first 60% of the users, replayed ones (a second
 * domain, weight 0.5) from 40-90%, so every domain mask occurs and the last 10% have none.
 * Seeded: the same arguments give the same events.
 */
export function twoDomainZipfEvents(seed: number, users: number, items: number, events: number): { users: Int32Array; items: Int32Array; replay: { users: Int32Array; items: Int32Array; weight: number } } {
  const rng = createRng(seed, { resumable: true });
  const draw = (n: number, from: number, to: number) => {
    const us = new Int32Array(n);
    const is = new Int32Array(n);
    for (let k = 0; k < n; k++) {
      us[k] = Math.floor((from + (to - from) * rng.next()) * users);
      is[k] = Math.min(items - 1, Math.floor(5 * (Math.pow((items + 5) / 5, rng.next()) - 1)));
    }
    return { users: us, items: is };
  };
  return { ...draw(events, 0, 0.6), replay: { ...draw(Math.floor(events / 2), 0.4, 0.9), weight: 0.5 } };
}
