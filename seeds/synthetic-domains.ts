import { createRng, shuffleInPlace, type Rng } from '../src/dataset/random.js';
import type { EventRecord, ItemRecord } from '../src/logs/index.js';

/*
 * Synthetic cross-domain data with planted structure, for tests, demos and benchmarks.
 *
 * The world has k latent "topics". Every user has one preference vector over them (topic
 * mixture = softmax of the vector); every item has a vector with one dominant topic. An event
 * is drawn as: topic ~ user's mixture, then item ~ popularity x exp(affinity of the item to that
 * topic); a small share of events ignores taste and follows popularity only. Tags come from a
 * vocabulary shared by both domains: each topic owns a few tags, and an item carries tags of its
 * strongest topics plus noise, so content can carry knowledge across domains.
 *
 * The target domain reuses the users' source vectors with a small perturbation, so transfer
 * truly helps; `independentTarget` draws fresh target vectors instead (negative-transfer tests).
 *
 * Sampling costs O(k + log items) per event (cumulative tables and binary search), so a
 * million events take about a second.
 */

export interface CrossDomainOptions {
  /** Users at scale 1 (default 2000); the world holds `users * scale` users. */
  users?: number;
  /** Multiplies users and both catalogues; per-user activity stays the same (default 1). */
  scale?: number;
  seed?: number;
  /** Latent topics (default 8). */
  factors?: number;
  sourceName?: string;
  targetName?: string;
  /** Items at scale 1 (defaults 2000 and 1000). */
  sourceItems?: number;
  targetItems?: number;
  /** Median events of a user in the source domain (default 20); log-normal activity skew. */
  sourceMedianEvents?: number;
  /** Median events of a user with target history (default 3). */
  targetMedianEvents?: number;
  /** Share of users with no target history at all (default 0.2). */
  coldStartShare?: number;
  /** Zipf exponent of item popularity (default 0.9). */
  popularityExponent?: number;
  /** Share of events drawn by popularity alone, ignoring taste (default 0.1). */
  noiseShare?: number;
  /**
   * How strongly taste beats popularity (default 1): scales both the sharpness of a user's
   * topic mixture and the affinity of items to topics. 0 gives a popularity-only world.
   */
  tasteStrength?: number;
  /** Std-dev of the target-specific perturbation added to each user's source vector (default 0.3). */
  targetPerturbation?: number;
  /** Draw target user vectors independently of the source ones: transfer cannot help. */
  independentTarget?: boolean;
  /** Topic tags per topic (default 4) and topic-free noise tags (default 16). */
  tagsPerFactor?: number;
  noiseTags?: number;
  /** First event time (default 2024-01-01T00:00:00Z); events are spread over `spanDays` (default 180). */
  start?: Date;
  spanDays?: number;
}

/** One generated domain: its catalogue and its log as columns in time order. */
export interface SyntheticDomain {
  readonly name: string;
  readonly items: ItemRecord[];
  /** The log as columns `[events]`: user index (into `truth.userIds`), item index (into `items`), time in ms; time-ordered. */
  readonly log: { readonly users: Int32Array; readonly items: Int32Array; readonly times: Float64Array };
  readonly eventCount: number;
  /** Every event as an `EventRecord` (built on first access; prefer `eventBatches` for large worlds). */
  readonly events: EventRecord[];
  /** The events in time order, `size` records at a time (default 10 000). */
  eventBatches(size?: number): Generator<EventRecord[]>;
}

/** The planted structure, for tests and quality benchmarks. Matrices are row-major. */
export interface CrossDomainTruth {
  readonly factors: number;
  readonly userIds: string[];
  /** `[users, factors]` source preference vectors. */
  readonly userFactors: Float32Array;
  /** `[users, factors]` target preference vectors (source + perturbation, or independent). */
  readonly targetUserFactors: Float32Array;
  /** `[sourceItems, factors]` and `[targetItems, factors]`. */
  readonly sourceItemFactors: Float32Array;
  readonly targetItemFactors: Float32Array;
  /** `factorTags[f]` are the tags of topic f; `noiseTags` belong to no topic. */
  readonly factorTags: string[][];
  readonly noiseTags: string[];
  /** User indexes with no target history. */
  readonly coldStartUsers: Int32Array;
}

export interface CrossDomain {
  readonly source: SyntheticDomain;
  readonly target: SyntheticDomain;
  readonly truth: CrossDomainTruth;
}

const DAY_MS = 86_400_000;
/*
 * With these, about 70% of a user's topic mass sits on the primary topic and a topic's own
 * items hold most of its table despite Zipf popularity: taste is clearly visible in the log.
 */
const USER_SHARPNESS = 1.5;
const ITEM_AFFINITY = 3;

/**
 * Generates a large source domain and a sparse target domain that share users, deterministic
 * for a seed.
 *
 * @example
 * const { source, target, truth } = generateCrossDomain({ users: 500, seed: 7 });
 * await ingestEvents(gdb, source.name, source.eventBatches());
 */
export function generateCrossDomain(options: CrossDomainOptions = {}): CrossDomain {
  const scale = options.scale ?? 1;
  const nUsers = Math.max(1, Math.round((options.users ?? 2000) * scale));
  const k = options.factors ?? 8;
  const nSourceItems = Math.max(2, Math.round((options.sourceItems ?? 2000) * scale));
  const nTargetItems = Math.max(2, Math.round((options.targetItems ?? 1000) * scale));
  const tagsPerFactor = options.tagsPerFactor ?? 4;
  const start = (options.start ?? new Date('2024-01-01T00:00:00Z')).getTime();
  const spanMs = (options.spanDays ?? 180) * DAY_MS;
  const rng = createRng(options.seed ?? 42);

  const factorTags = Array.from({ length: k }, (_, f) =>
    Array.from({ length: tagsPerFactor }, (_, j) => `topic${f}-${String.fromCharCode(97 + (j % 26))}${j >= 26 ? j : ''}`),
  );
  const noiseTags = Array.from({ length: options.noiseTags ?? 16 }, (_, j) => `misc-${j}`);

  const userIds = Array.from({ length: nUsers }, (_, u) => `u${u}`);
  const userFactors = preferenceVectors(nUsers, k, rng);
  let targetUserFactors: Float32Array;
  if (options.independentTarget) {
    targetUserFactors = preferenceVectors(nUsers, k, rng);
  } else {
    const noise = options.targetPerturbation ?? 0.3;
    targetUserFactors = Float32Array.from(userFactors, (x) => x + noise * rng.normal());
  }

  const sourceItemFactors = preferenceVectors(nSourceItems, k, rng);
  const targetItemFactors = preferenceVectors(nTargetItems, k, rng);

  const common = { k, rng, popularityExponent: options.popularityExponent ?? 0.9, noiseShare: options.noiseShare ?? 0.1, taste: options.tasteStrength ?? 1, start, spanMs, userIds, factorTags, noiseTags };

  const sourceActivity = new Int32Array(nUsers);
  const sourceMedian = options.sourceMedianEvents ?? 20;
  for (let u = 0; u < nUsers; u++) sourceActivity[u] = logNormalCount(rng, sourceMedian, 0.8);

  const coldCount = Math.round((options.coldStartShare ?? 0.2) * nUsers);
  const order = shuffleInPlace(Int32Array.from({ length: nUsers }, (_, u) => u), rng);
  const coldStartUsers = order.slice(0, coldCount).sort();
  const targetActivity = new Int32Array(nUsers);
  const targetMedian = options.targetMedianEvents ?? 3;
  for (let u = 0; u < nUsers; u++) targetActivity[u] = logNormalCount(rng, targetMedian, 0.7);
  for (const u of coldStartUsers) targetActivity[u] = 0;

  const source = generateDomain({ ...common, name: options.sourceName ?? 'source', userFactors, itemFactors: sourceItemFactors, activity: sourceActivity });
  const target = generateDomain({ ...common, name: options.targetName ?? 'target', userFactors: targetUserFactors, itemFactors: targetItemFactors, activity: targetActivity });

  return {
    source,
    target,
    truth: { factors: k, userIds, userFactors, targetUserFactors, sourceItemFactors, targetItemFactors, factorTags, noiseTags, coldStartUsers },
  };
}

/** `[n, k]` vectors with one dominant topic each: 2 on a uniform topic plus N(0, 0.5²) noise. */
function preferenceVectors(n: number, k: number, rng: Rng): Float32Array {
  const out = new Float32Array(n * k);
  for (let r = 0; r < n; r++) {
    for (let f = 0; f < k; f++) out[r * k + f] = 0.5 * rng.normal();
    out[r * k + rng.int(k)] += 2;
  }
  return out;
}

/** A count >= 1 with the given median and log-normal spread. */
function logNormalCount(rng: Rng, median: number, sigma: number): number {
  return Math.max(1, Math.round(median * Math.exp(sigma * rng.normal())));
}

interface DomainSpec {
  name: string;
  k: number;
  rng: Rng;
  userIds: string[];
  userFactors: Float32Array;
  itemFactors: Float32Array;
  activity: Int32Array;
  popularityExponent: number;
  noiseShare: number;
  taste: number;
  factorTags: string[][];
  noiseTags: string[];
  start: number;
  spanMs: number;
}

function generateDomain(spec: DomainSpec): SyntheticDomain {
  const { k, rng, userFactors, itemFactors, activity } = spec;
  const nUsers = activity.length;
  const nItems = itemFactors.length / k;

  // Zipf popularity over a random permutation of ranks, so popularity is independent of topic.
  const rank = shuffleInPlace(Int32Array.from({ length: nItems }, (_, i) => i), rng);
  const popularity = Float64Array.from(rank, (r) => 1 / Math.pow(r + 1, spec.popularityExponent));

  // One cumulative table per topic, `[k, nItems]`, plus the popularity-only table.
  const topicTables = new Float64Array(k * nItems);
  for (let f = 0; f < k; f++) {
    let sum = 0;
    for (let i = 0; i < nItems; i++) {
      sum += popularity[i] * Math.exp(ITEM_AFFINITY * spec.taste * itemFactors[i * k + f]);
      topicTables[f * nItems + i] = sum;
    }
  }
  const popularityTable = new Float64Array(nItems);
  for (let i = 0, sum = 0; i < nItems; i++) popularityTable[i] = sum += popularity[i];

  const items: ItemRecord[] = new Array(nItems);
  for (let i = 0; i < nItems; i++) {
    items[i] = { item: `${spec.name}-${i}`, title: `${spec.name} item ${i}`, tags: itemTags(itemFactors.subarray(i * k, (i + 1) * k), spec, rng) };
  }

  // Draw each user's items (no repeats within a user), then interleave users over time.
  let total = 0;
  for (let u = 0; u < nUsers; u++) total += Math.min(activity[u], Math.floor(nItems / 2));
  const drawnItems = new Int32Array(total);
  const userStart = new Int32Array(nUsers + 1);
  const lastSeenBy = new Int32Array(nItems).fill(-1);
  const mixture = new Float64Array(k);
  let at = 0;
  for (let u = 0; u < nUsers; u++) {
    userStart[u] = at;
    const wanted = Math.min(activity[u], Math.floor(nItems / 2));
    if (wanted === 0) continue;
    let sum = 0;
    for (let f = 0; f < k; f++) mixture[f] = sum += Math.exp(USER_SHARPNESS * spec.taste * userFactors[u * k + f]);
    let drawn = 0;
    for (let attempt = 0; drawn < wanted && attempt < wanted * 20; attempt++) {
      let item: number;
      if (rng.next() < spec.noiseShare) {
        item = searchCumulative(popularityTable, 0, nItems, rng.next() * popularityTable[nItems - 1]);
      } else {
        const x = rng.next() * sum;
        let f = 0;
        while (f < k - 1 && mixture[f] <= x) f++;
        const base = f * nItems;
        item = searchCumulative(topicTables, base, nItems, rng.next() * topicTables[base + nItems - 1]);
      }
      if (lastSeenBy[item] === u) continue;
      lastSeenBy[item] = u;
      drawnItems[at++] = item;
      drawn++;
    }
  }
  userStart[nUsers] = at;
  const count = at;

  // A random interleaving of the users' event slots is a time order in which each user's
  // events spread over the whole span; times strictly increase with the position.
  const slots = new Int32Array(count);
  for (let u = 0; u < nUsers; u++) slots.fill(u, userStart[u], userStart[u + 1]);
  shuffleInPlace(slots, rng);
  const logUsers = slots;
  const logItems = new Int32Array(count);
  const logTimes = new Float64Array(count);
  const next = userStart.slice(0, nUsers);
  const step = count > 0 ? Math.max(1, Math.floor(spec.spanMs / count)) : 1;
  for (let e = 0; e < count; e++) {
    logItems[e] = drawnItems[next[logUsers[e]]++];
    logTimes[e] = spec.start + e * step;
  }

  const log = { users: logUsers, items: logItems, times: logTimes };
  const record = (e: number): EventRecord => ({
    user: spec.userIds[logUsers[e]],
    item: items[logItems[e]].item,
    weight: 1,
    time: new Date(logTimes[e]),
    kind: 'view',
  });
  let cached: EventRecord[] | undefined;
  return {
    name: spec.name,
    items,
    log,
    eventCount: count,
    get events() {
      cached ??= Array.from({ length: count }, (_, e) => record(e));
      return cached;
    },
    *eventBatches(size = 10_000) {
      for (let from = 0; from < count; from += size) {
        const to = Math.min(count, from + size);
        const batch = new Array<EventRecord>(to - from);
        for (let e = from; e < to; e++) batch[e - from] = record(e);
        yield batch;
      }
    },
  };
}

/** Two tags of the strongest topic, often one of the second, sometimes a noise tag. */
function itemTags(vector: Float32Array, spec: DomainSpec, rng: Rng): string[] {
  let first = 0;
  let second = -1;
  for (let f = 1; f < vector.length; f++) {
    if (vector[f] > vector[first]) {
      second = first;
      first = f;
    } else if (second < 0 || vector[f] > vector[second]) second = f;
  }
  const tags = new Set<string>();
  const own = spec.factorTags[first];
  if (own.length) {
    tags.add(own[rng.int(own.length)]);
    tags.add(own[rng.int(own.length)]);
  }
  if (second >= 0 && spec.factorTags[second].length && rng.next() < 0.5) tags.add(spec.factorTags[second][rng.int(spec.factorTags[second].length)]);
  if (spec.noiseTags.length && rng.next() < 0.3) tags.add(spec.noiseTags[rng.int(spec.noiseTags.length)]);
  return [...tags];
}

/** First index in `table[base, base + n)` whose cumulative value exceeds `x`, as an offset from base. */
function searchCumulative(table: Float64Array, base: number, n: number, x: number): number {
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (table[base + mid] > x) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
