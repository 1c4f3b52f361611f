import { GraftError } from '../errors.js';
import type { Dataset, Interactions, Split } from './dataset.js';
import { countPerUser, selectInteractions } from './interactions.js';
import { createRng } from './random.js';

/*
 * Every split is a pure function of a dataset (plus a seed where random): train and test are
 * disjoint, their union is every interaction, and each part keeps the input's time order.
 */

/**
 * The last `lastN` interactions of each user go to test, for users with more than `lastN`
 * interactions; users with `lastN` or fewer stay entirely in train.
 *
 * @example
 * const { train, test } = temporalSplit(ds, { lastN: 1 });
 */
export function temporalSplit(ds: Pick<Dataset, 'interactions' | 'users'>, options: { lastN: number }): Split {
  const { train, held } = holdOutLast(ds.interactions, ds.users.size, positiveInt(options.lastN, 'lastN'));
  return { train, test: held };
}

/**
 * Interactions before `cut` are train, those at or after it are test. Test may contain users
 * and items absent from train (cold-start); filter them if the protocol needs it.
 */
export function timeCutSplit(ds: Pick<Dataset, 'interactions'>, options: { cut: Date }): Split {
  const cut = options.cut.getTime();
  if (!Number.isFinite(cut)) throw new GraftError('BAD_INPUT', `cut "${String(options.cut)}" is not a valid date; pass e.g. new Date('2024-01-01T00:00:00Z')`);
  const { times } = ds.interactions;
  const mask = new Uint8Array(times.length);
  for (let i = 0; i < times.length; i++) mask[i] = times[i] >= cut ? 1 : 0;
  return { train: selectInteractions(ds.interactions, mask, 0), test: selectInteractions(ds.interactions, mask, 1) };
}

/**
 * One interaction per user is held out for test: the user's last (`mode: 'last'`) or a
 * uniformly drawn one (`mode: 'random'`, reproducible for `seed`). Users with a single
 * interaction keep it in train, so every test user has a training history.
 */
export function leaveOneOutSplit(
  ds: Pick<Dataset, 'interactions' | 'users'>,
  options: { mode: 'last' | 'random'; seed?: number },
): Split {
  if (options.mode === 'last') return temporalSplit(ds, { lastN: 1 });
  if (options.mode !== 'random') {
    throw new GraftError('BAD_INPUT', `leave-one-out mode "${String(options.mode)}" is unknown; use 'last' or 'random'`);
  }
  const { interactions } = ds;
  const nUsers = ds.users.size;
  const counts = countPerUser(interactions, nUsers);
  const rng = createRng(options.seed ?? 0);
  // Draw the held-out position within each user's history, in user order so the draw is
  // independent of how interactions of different users interleave.
  const pick = new Int32Array(nUsers).fill(-1);
  for (let u = 0; u < nUsers; u++) if (counts[u] > 1) pick[u] = rng.int(counts[u]);
  const seen = new Int32Array(nUsers);
  const mask = new Uint8Array(interactions.users.length);
  for (let i = 0; i < interactions.users.length; i++) {
    const u = interactions.users[i];
    if (seen[u]++ === pick[u]) mask[i] = 1;
  }
  return { train: selectInteractions(interactions, mask, 0), test: selectInteractions(interactions, mask, 1) };
}

/** One test pair of a fixed public split, by external ids. */
export interface HeldOutPair {
  user: string;
  item: string;
  /** Default 1. */
  weight?: number;
  /** Default: 1 ms after the dataset's last interaction (test comes after train). */
  time?: Date;
  /** 1-based line of the file it came from (`readHeldOutFile` sets it); a line-1 pair naming neither a known user nor a known item is a header read as data. */
  line?: number;
}

/** Why held-out pairs were left out of test: pairs per reason (each pair counted once, in this order). */
export interface HeldOutDrops {
  /** The first line names neither a known user nor a known item: a header line read as data. */
  header: number;
  /** The user has no events in the domain and no row to be scored from (see `coldStartUsers`). */
  unknownUser: number;
  /** The item is not in the domain's training data: no model can rank it. */
  unknownItem: number;
}

/** A split whose test part came from a file; pairs naming unknown users or items are left out and counted. */
export interface HeldOutSplit extends Split {
  readonly unknown: {
    /** Pairs left out (every reason of `dropped`). */
    readonly pairs: number;
    /** Distinct unknown user ids / item ids among them. */
    readonly users: number;
    readonly items: number;
  };
  readonly dropped: HeldOutDrops;
  /**
   * Test users with no events in the dataset that `options.coldStartUsers` knows: they get the
   * user indexes after the dataset's (`ds.users.size + k`, in file order), with no training
   * interactions. External ids and database ids.
   */
  readonly addedUsers: { readonly ids: readonly string[]; readonly dbIds: Int32Array };
}

/**
 * For benchmarks with a fixed split (e.g. the Amazon `train.txt` / `test.txt`): every dataset
 * interaction is train and the test interactions are `testPairs`. A pair whose item is not in
 * the dataset, or whose user is neither in the dataset nor in `options.coldStartUsers`, cannot
 * be scored, so it is left out of test and counted by reason in `dropped`.
 *
 * `coldStartUsers` (external id -> database id) names users without events in this domain who
 * can still be scored, e.g. users a transferred model has a row for (their source history):
 * such test users are kept, as users with no training interactions (the "0" stratum).
 *
 * @example
 * const split = heldOutSplit(ds, await readHeldOutFile('test.txt', { format: 'tsv' }));
 * split.dropped; // { header: 0, unknownUser: 0, unknownItem: 0 }
 */
export function heldOutSplit(
  ds: Pick<Dataset, 'interactions' | 'users' | 'items'>,
  testPairs: Iterable<HeldOutPair>,
  options: { coldStartUsers?: ReadonlyMap<string, number> } = {},
): HeldOutSplit {
  const all = ds.interactions;
  const after = (all.times.length ? all.times[all.times.length - 1] : 0) + 1;
  const users: number[] = [];
  const items: number[] = [];
  const weights: number[] = [];
  const times: number[] = [];
  const unknownUsers = new Set<string>();
  const unknownItems = new Set<string>();
  const dropped: HeldOutDrops = { header: 0, unknownUser: 0, unknownItem: 0 };
  const added = new Map<string, number>();
  const addedDbIds: number[] = [];
  let position = 0;
  for (const pair of testPairs) {
    position++;
    const i = ds.items.index.get(pair.item);
    let u = ds.users.index.get(pair.user) ?? added.get(pair.user);
    const dbId = u === undefined ? options.coldStartUsers?.get(pair.user) : undefined;
    // Added only with a known item, so every added user has a test row.
    if (dbId !== undefined && i !== undefined) {
      u = ds.users.size + added.size;
      added.set(pair.user, u);
      addedDbIds.push(dbId);
    }
    if (u === undefined || i === undefined) {
      const known = u !== undefined || dbId !== undefined;
      if (!known && i === undefined && (pair.line ?? position) === 1) dropped.header++;
      else {
        if (!known) unknownUsers.add(pair.user);
        if (i === undefined) unknownItems.add(pair.item);
        if (!known) dropped.unknownUser++;
        else dropped.unknownItem++;
      }
      continue;
    }
    users.push(u);
    items.push(i);
    weights.push(pair.weight ?? 1);
    times.push(pair.time ? pair.time.getTime() : after);
  }
  // Stable sort by time keeps the file order among equal times.
  const order = Array.from(users.keys()).sort((a, b) => times[a] - times[b] || a - b);
  const test: Interactions = {
    users: Int32Array.from(order, (k) => users[k]),
    items: Int32Array.from(order, (k) => items[k]),
    weights: Float32Array.from(order, (k) => weights[k]),
    times: Float64Array.from(order, (k) => times[k]),
  };
  const train: Interactions = { users: all.users.slice(), items: all.items.slice(), weights: all.weights.slice(), times: all.times.slice() };
  return {
    train,
    test,
    unknown: { pairs: dropped.header + dropped.unknownUser + dropped.unknownItem, users: unknownUsers.size, items: unknownItems.size },
    dropped,
    addedUsers: { ids: [...added.keys()], dbIds: Int32Array.from(addedDbIds) },
  };
}

/**
 * Carves a validation part out of a split's train part (for early stopping), leaving test as is:
 * either each user's last `lastN` train interactions (users with more than `lastN`), or a
 * random `fraction` of train interactions drawn with `seed`.
 *
 * @example
 * const withValidation = validationFromTrain(temporalSplit(ds, { lastN: 1 }), { lastN: 1 });
 */
export function validationFromTrain(
  split: Split,
  options: { lastN: number } | { fraction: number; seed?: number },
): Split & { validation: Interactions } {
  const train = split.train;
  if ('lastN' in options) {
    let nUsers = 0;
    for (let i = 0; i < train.users.length; i++) if (train.users[i] >= nUsers) nUsers = train.users[i] + 1;
    const { train: rest, held } = holdOutLast(train, nUsers, positiveInt(options.lastN, 'lastN'));
    return { train: rest, test: split.test, validation: held };
  }
  const { fraction } = options;
  if (!(fraction > 0 && fraction < 1)) {
    throw new GraftError('BAD_INPUT', `validation fraction ${fraction} is outside (0, 1); use e.g. 0.1`);
  }
  const rng = createRng(options.seed ?? 0);
  const mask = new Uint8Array(train.users.length);
  for (let i = 0; i < mask.length; i++) mask[i] = rng.next() < fraction ? 1 : 0;
  return { train: selectInteractions(train, mask, 0), test: split.test, validation: selectInteractions(train, mask, 1) };
}

function holdOutLast(interactions: Interactions, nUsers: number, lastN: number): { train: Interactions; held: Interactions } {
  const counts = countPerUser(interactions, nUsers);
  const fromEnd = new Int32Array(nUsers);
  const mask = new Uint8Array(interactions.users.length);
  // Walk backwards: the first lastN met per user are its last lastN.
  for (let i = interactions.users.length - 1; i >= 0; i--) {
    const u = interactions.users[i];
    if (counts[u] > lastN && fromEnd[u]++ < lastN) mask[i] = 1;
  }
  return { train: selectInteractions(interactions, mask, 0), held: selectInteractions(interactions, mask, 1) };
}

function positiveInt(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new GraftError('BAD_INPUT', `${name} ${value} is not a positive integer; use e.g. ${name}: 1`);
  }
  return value;
}
