import { describe, expect, it } from 'vitest';
import { generateCrossDomain, type CrossDomain, type SyntheticDomain } from './synthetic-domains.js';

const small = { users: 400, sourceItems: 300, targetItems: 150, seed: 11 };

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function eventsPerUser(domain: SyntheticDomain, nUsers: number): number[] {
  const counts = new Array<number>(nUsers).fill(0);
  for (const u of domain.log.users) counts[u]++;
  return counts;
}

/** Per user, the histogram of tags over the user's events in a domain: `[users][tag]`. */
function tagProfiles(domain: SyntheticDomain, nUsers: number, tagIndex: Map<string, number>): Float64Array[] {
  const profiles = Array.from({ length: nUsers }, () => new Float64Array(tagIndex.size));
  for (let e = 0; e < domain.eventCount; e++) {
    for (const tag of domain.items[domain.log.items[e]].tags ?? []) profiles[domain.log.users[e]][tagIndex.get(tag)!]++;
  }
  return profiles;
}

function cosine(a: Float64Array, b: Float64Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na && nb ? dot / Math.sqrt(na * nb) : 0;
}

/** Mean cosine of each user's source and target tag profiles, and the same with target profiles of a shifted user (chance). */
function tagAgreement(world: CrossDomain): { same: number; shifted: number } {
  const tags = [...world.truth.factorTags.flat(), ...world.truth.noiseTags];
  const tagIndex = new Map(tags.map((t, i) => [t, i]));
  const n = world.truth.userIds.length;
  const src = tagProfiles(world.source, n, tagIndex);
  const tgt = tagProfiles(world.target, n, tagIndex);
  const active = Array.from({ length: n }, (_, u) => u).filter((u) => tgt[u].some((x) => x > 0));
  let same = 0;
  let shifted = 0;
  active.forEach((u, j) => {
    same += cosine(src[u], tgt[u]);
    shifted += cosine(src[u], tgt[active[(j + 7) % active.length]]);
  });
  return { same: same / active.length, shifted: shifted / active.length };
}

describe('generateCrossDomain', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    const a = generateCrossDomain(small);
    const b = generateCrossDomain(small);
    const c = generateCrossDomain({ ...small, seed: 12 });
    expect(b.source.items).toEqual(a.source.items);
    expect(b.source.events).toEqual(a.source.events);
    expect(b.target.events).toEqual(a.target.events);
    expect(b.truth.userFactors).toEqual(a.truth.userFactors);
    expect(c.source.events.map((e) => e.item)).not.toEqual(a.source.events.map((e) => e.item));
  });

  it('shares users across a dense source and a sparse target with cold-start users', () => {
    const world = generateCrossDomain(small);
    const n = world.truth.userIds.length;
    expect(n).toBe(400);
    const src = eventsPerUser(world.source, n);
    const tgt = eventsPerUser(world.target, n);
    expect(src.every((c) => c > 0)).toBe(true);
    expect(median(src)).toBeGreaterThanOrEqual(15);
    expect(median(src)).toBeLessThanOrEqual(25);
    const active = tgt.filter((c) => c > 0);
    expect(median(active)).toBeGreaterThanOrEqual(2);
    expect(median(active)).toBeLessThanOrEqual(4);
    expect(n - active.length).toBe(80);
    expect(Array.from(world.truth.coldStartUsers).every((u) => tgt[u] === 0)).toBe(true);
    // The same external id names the same person in both domains.
    const srcUsers = new Set(world.source.events.map((e) => e.user));
    expect(world.target.events.every((e) => srcUsers.has(e.user))).toBe(true);
    expect(world.source.items).toHaveLength(300);
    expect(world.target.items).toHaveLength(150);
  });

  it('scales users and catalogues together', () => {
    const world = generateCrossDomain({ ...small, scale: 0.5 });
    expect(world.truth.userIds).toHaveLength(200);
    expect(world.source.items).toHaveLength(150);
    expect(world.target.items).toHaveLength(75);
  });

  it('emits time-ordered events, without repeats of an item within a user, in batches equal to the full list', () => {
    const world = generateCrossDomain(small);
    const times = world.source.log.times;
    for (let e = 1; e < times.length; e++) expect(times[e]).toBeGreaterThan(times[e - 1]);
    const pairs = new Set(world.source.events.map((e) => `${e.user}|${e.item}`));
    expect(pairs.size).toBe(world.source.eventCount);
    expect([...world.source.eventBatches(1000)].flat()).toEqual(world.source.events);
  });

  it('draws tags from one vocabulary shared by both domains', () => {
    const world = generateCrossDomain(small);
    const sourceTags = new Set(world.source.items.flatMap((i) => i.tags ?? []));
    const targetTags = new Set(world.target.items.flatMap((i) => i.tags ?? []));
    const shared = [...targetTags].filter((t) => sourceTags.has(t));
    expect(shared.length / targetTags.size).toBeGreaterThan(0.9);
    expect(world.target.items.every((i) => (i.tags?.length ?? 0) >= 1)).toBe(true);
  });

  it('skews popularity: the top 10% of items take a large share of events', () => {
    const world = generateCrossDomain(small);
    const counts = new Array<number>(world.source.items.length).fill(0);
    for (const i of world.source.log.items) counts[i]++;
    counts.sort((a, b) => b - a);
    const top = counts.slice(0, Math.ceil(counts.length / 10)).reduce((s, c) => s + c, 0);
    expect(top / world.source.eventCount).toBeGreaterThan(0.3);
  });

  it('plants related tastes: a user\'s source and target tags agree far beyond chance, unless the target is independent', () => {
    const related = tagAgreement(generateCrossDomain(small));
    expect(related.same).toBeGreaterThan(related.shifted + 0.15);
    const independent = tagAgreement(generateCrossDomain({ ...small, independentTarget: true }));
    expect(Math.abs(independent.same - independent.shifted)).toBeLessThan(0.05);
  });
});
