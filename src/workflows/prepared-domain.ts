import type { GraftDatabase } from '../db/connect.js';
import type { Dataset } from '../dataset/dataset.js';
import { readDataset } from '../dataset/read-dataset.js';
import { validationFromTrain, type HeldOutDrops } from '../dataset/splits.js';
import { hashTokenBags, type TokenBags } from '../model/token-hash.js';
import { applySplit, type SplitSpec } from './split-spec.js';

/** Parallel arrays of (user row, item row, weight). */
export interface Examples {
  users: Int32Array;
  items: Int32Array;
  weights?: Float32Array;
}

/** The examples of several sets end to end (missing weights count as 1); undefined parts are skipped. */
export function concatExamples(...parts: Array<Examples | undefined>): Examples {
  const present = parts.filter((p): p is Examples => p !== undefined);
  const n = present.reduce((sum, p) => sum + p.users.length, 0);
  const out = { users: new Int32Array(n), items: new Int32Array(n), weights: new Float32Array(n) };
  let at = 0;
  for (const p of present) {
    out.users.set(p.users, at);
    out.items.set(p.items, at);
    if (p.weights) out.weights.set(p.weights, at);
    else out.weights.fill(1, at, at + p.users.length);
    at += p.users.length;
  }
  return out;
}

/**
 * One domain read and split for training: typed arrays only, so it can be handed to a
 * child process as is. Rows index `userDbIds` / `itemDbIds`.
 */
export interface PreparedDomain {
  domain: string;
  domainId: number;
  userDbIds: Int32Array;
  itemDbIds: Int32Array;
  train: Examples;
  test: Examples;
  /** Carved from train (each user's last training interaction) for early stopping. */
  validation?: Examples;
  /** Hashed tag bags per item; undefined when no item has tags (ID-only data). */
  itemTokens?: TokenBags;
  split: SplitSpec;
  unknownTestPairs: number;
  /** Held-out pairs left out of test, by reason (all 0 but for a file split). */
  dropped: HeldOutDrops;
  /**
   * Test users with no events in the domain kept because `coldStartUsers` named them: the last
   * `coldStartTestUsers` rows of `userDbIds`, with no training interactions.
   */
  coldStartTestUsers: number;
}

export interface PrepareOptions {
  split: SplitSpec;
  tokenBuckets: number;
  /** Hold out each user's last training interaction for validation (default true). */
  validation?: boolean;
  /** For a file split: test users without events in the domain who can still be scored (external id -> database id). */
  coldStartUsers?: ReadonlyMap<string, number>;
}

/** Reads a domain through Kysely and splits it. */
export async function prepareDomain(gdb: GraftDatabase, domain: string, options: PrepareOptions): Promise<PreparedDomain> {
  const dataset = await readDataset(gdb, domain);
  return prepareDataset(dataset, options);
}

/** The split and token hashing of an already read dataset. */
export async function prepareDataset(dataset: Dataset, options: PrepareOptions): Promise<PreparedDomain> {
  const split = await applySplit(dataset, options.split, { coldStartUsers: options.coldStartUsers });
  let train = split.train;
  let validation: Examples | undefined;
  if (options.validation !== false && train.users.length > 0) {
    const carved = validationFromTrain({ train, test: split.test }, { lastN: 1 });
    // Users with a single training interaction keep it: validating on them would leave them no history.
    train = carved.train;
    validation = carved.validation;
  }
  const hasTags = dataset.itemTokens.tokens.length > 0;
  return {
    domain: dataset.domain,
    domainId: dataset.domainId,
    userDbIds: split.addedUsers.dbIds.length > 0 ? Int32Array.from([...dataset.users.dbIds, ...split.addedUsers.dbIds]) : dataset.users.dbIds,
    itemDbIds: dataset.items.dbIds,
    train: { users: train.users, items: train.items, weights: train.weights },
    test: { users: split.test.users, items: split.test.items, weights: split.test.weights },
    validation: validation && { users: validation.users, items: validation.items, weights: validation.weights },
    itemTokens: hasTags ? hashTokenBags(dataset.itemTokens, options.tokenBuckets) : undefined,
    split: options.split,
    unknownTestPairs: split.unknownTestPairs,
    dropped: split.dropped,
    coldStartTestUsers: split.addedUsers.dbIds.length,
  };
}
