import type { Interactions } from './dataset.js';

/** Number of interactions. */
export function interactionCount(interactions: Interactions): number {
  return interactions.users.length;
}

/** Interactions with every array empty. */
export function emptyInteractions(): Interactions {
  return { users: new Int32Array(0), items: new Int32Array(0), weights: new Float32Array(0), times: new Float64Array(0) };
}

/**
 * Keeps the interactions whose `mask[i] === keep`, in their original order (so a time-sorted
 * input stays time-sorted). `mask` has one entry per interaction.
 *
 * @example
 * const test = selectInteractions(all, isTest, 1); const train = selectInteractions(all, isTest, 0);
 */
export function selectInteractions(interactions: Interactions, mask: Uint8Array, keep: number): Interactions {
  const n = interactions.users.length;
  let count = 0;
  for (let i = 0; i < n; i++) if (mask[i] === keep) count++;
  const users = new Int32Array(count);
  const items = new Int32Array(count);
  const weights = new Float32Array(count);
  const times = new Float64Array(count);
  let j = 0;
  for (let i = 0; i < n; i++) {
    if (mask[i] !== keep) continue;
    users[j] = interactions.users[i];
    items[j] = interactions.items[i];
    weights[j] = interactions.weights[i];
    times[j] = interactions.times[i];
    j++;
  }
  return { users, items, weights, times };
}

/** Interactions per user: `[nUsers]`. */
export function countPerUser(interactions: Interactions, nUsers: number): Int32Array {
  const counts = new Int32Array(nUsers);
  const users = interactions.users;
  for (let i = 0; i < users.length; i++) counts[users[i]]++;
  return counts;
}

/**
 * Interactions held in growable typed arrays, appended page by page while reading, so a
 * million events never become a million JS objects.
 */
export class InteractionsBuilder {
  private users: Int32Array;
  private items: Int32Array;
  private weights: Float32Array;
  private times: Float64Array;
  private length = 0;

  constructor(initialCapacity = 1024) {
    const capacity = Math.max(16, initialCapacity);
    this.users = new Int32Array(capacity);
    this.items = new Int32Array(capacity);
    this.weights = new Float32Array(capacity);
    this.times = new Float64Array(capacity);
  }

  get size(): number {
    return this.length;
  }

  push(user: number, item: number, weight: number, time: number): void {
    if (this.length === this.users.length) this.grow(this.length * 2);
    const i = this.length++;
    this.users[i] = user;
    this.items[i] = item;
    this.weights[i] = weight;
    this.times[i] = time;
  }

  /** Appends whole columns (one page) at once. */
  append(users: Int32Array, items: Int32Array, weights: Float32Array, times: Float64Array): void {
    const n = users.length;
    this.reserve(n);
    this.users.set(users, this.length);
    this.items.set(items, this.length);
    this.weights.set(weights, this.length);
    this.times.set(times, this.length);
    this.length += n;
  }

  /** Makes room for `extra` more interactions at once (one copy instead of several doublings). */
  reserve(extra: number): void {
    const needed = this.length + extra;
    if (needed > this.users.length) this.grow(Math.max(needed, this.users.length * 2));
  }

  /** The interactions so far, trimmed to length (copies; the builder can keep going). */
  build(): Interactions {
    return {
      users: this.users.slice(0, this.length),
      items: this.items.slice(0, this.length),
      weights: this.weights.slice(0, this.length),
      times: this.times.slice(0, this.length),
    };
  }

  private grow(capacity: number): void {
    const users = new Int32Array(capacity);
    users.set(this.users.subarray(0, this.length));
    const items = new Int32Array(capacity);
    items.set(this.items.subarray(0, this.length));
    const weights = new Float32Array(capacity);
    weights.set(this.weights.subarray(0, this.length));
    const times = new Float64Array(capacity);
    times.set(this.times.subarray(0, this.length));
    this.users = users;
    this.items = items;
    this.weights = weights;
    this.times = times;
  }
}
