import type { GraftDatabase } from '../db/connect.js';
import { readDataset } from '../dataset/read-dataset.js';
import { createRng } from '../dataset/random.js';
import { GraftError } from '../errors.js';
import { hashTokenBags } from '../model/token-hash.js';
import type { TwoTowerConfig } from '../model/two-tower.model.js';
import { loadIdArtifact, loadWeights } from '../registry/artifact-repository.js';
import { getModel } from '../registry/model-repository.js';
import { modelConfig, storedModelSettings, type ModelSettings } from './model-settings.js';
import { concatExamples, prepareDataset, type Examples, type PreparedDomain } from './prepared-domain.js';
import type { SplitSpec } from './split-spec.js';
import { loadRetrainedSources } from './retrained-source.js';
import type { PreparedSource, PreparedTransfer } from './transfer.workflow.js';

export interface PrepareTransferOptions {
  split: SplitSpec;
  /**
   * Share of target users who also have source history whose whole target history is moved
   * into test (a synthetic cold-start carve). Default 0.1 for generated splits and 0 for a
   * file split: a fixed split is never changed unless asked.
   */
  coldStartShare?: number;
  seed?: number;
  /** Keep at most this many target training interactions per user (a sparse variant of the target; fixed seed). */
  maxTargetTrainPerUser?: number;
  /** Also load the source's registered retrained models (`loadRetrainedSources`) as AUTO's `alternativeSources`. */
  retrainedSources?: boolean;
}

/**
 * Reads everything a transfer computes on: the source model (weights, row ids, config), the
 * source domain's events in the source model's rows (for replay), and the target domain,
 * split, with a share of overlapping users held out entirely (cold-start test users).
 */
export async function prepareTransfer(gdb: GraftDatabase, sourceModelId: string, targetDomain: string, options: PrepareTransferOptions): Promise<PreparedTransfer> {
  const record = await getModel(gdb.db, sourceModelId);
  if (record.status === 'TRAINING' || record.status === 'FAILED') {
    throw new GraftError('CONFLICT', `source model "${sourceModelId}" is ${record.status}; transfer from a READY or ACTIVE model`);
  }
  if (record.domain === targetDomain) {
    throw new GraftError('BAD_INPUT', `model "${sourceModelId}" was trained on "${targetDomain}" itself; transfer goes to another domain (to retrain, use \`graft train --domain ${targetDomain}\`)`);
  }
  const saved = await loadWeights(gdb.db, sourceModelId);
  // A source without a learned item bias stores its popularity term (β·log(1 + n_i) of the source's
  // counts) in the same column: not a bias to carry. A transfer recomputes its own term from the
  // target's events, and a learned bias added at transfer time starts at 0, as on a source without one.
  const learnedBias = ((record.config.model as { itemBias?: boolean } | undefined)?.itemBias ?? false) === true;
  const weights = learnedBias ? saved : saved.filter((w) => w.name !== 'item.bias');
  const userDbIds = await loadIdArtifact(gdb.db, sourceModelId, 'vocab:users');
  const itemDbIds = await loadIdArtifact(gdb.db, sourceModelId, 'vocab:items');
  const stored = (record.config.model as Partial<ModelSettings> | undefined) ?? {};
  // A popularity term the source's run chose on its own carve (`popularityTerm`, popularityWeight left
  // out) was validated on the source's items: the transfer starts without it (AUTO profiles one on the target's carve).
  const chosenTerm = (record.config as { popularityTerm?: unknown }).popularityTerm !== undefined;
  const settings = storedModelSettings(chosenTerm ? { ...stored, popularityWeight: 0 } : stored);
  const config: TwoTowerConfig = modelConfig(settings, userDbIds.length, itemDbIds.length);

  const sourceData = await readDataset(gdb, record.domain);
  const userRow = rowLookup(userDbIds);
  const itemRow = rowLookup(itemDbIds);
  const events = remap(sourceData.interactions, sourceData.users.dbIds, sourceData.items.dbIds, userRow, itemRow);
  const datasetItemOf = new Map<number, number>();
  sourceData.items.dbIds.forEach((id, i) => datasetItemOf.set(id, i));
  const hasTags = sourceData.itemTokens.tokens.length > 0;
  const source: PreparedSource = {
    modelId: sourceModelId,
    domain: record.domain,
    config,
    weights,
    userDbIds,
    itemDbIds,
    events,
    itemTokens: hasTags ? hashTokenBags(reorderTokens(sourceData.itemTokens, itemDbIds, datasetItemOf), settings.tokenBuckets) : undefined,
  };

  const targetData = await readDataset(gdb, targetDomain);
  const sourceUsers = new Set(userDbIds);
  // Test users of a fixed split with source history but no target events: the users transfer
  // is for. They are scored from their transferred rows (the "0" stratum).
  const coldStartUsers = new Map<string, number>();
  sourceData.users.ids.forEach((id, u) => {
    const dbId = sourceData.users.dbIds[u]!;
    if (sourceUsers.has(dbId) && !targetData.users.index.has(id)) coldStartUsers.set(id, dbId);
  });
  let target = await prepareDataset(targetData, { split: options.split, tokenBuckets: settings.tokenBuckets, coldStartUsers });
  const seed = options.seed ?? 1;
  if (options.maxTargetTrainPerUser !== undefined) target = capTrainPerUser(target, options.maxTargetTrainPerUser, seed);
  const share = options.coldStartShare ?? defaultColdStartShare(options.split);
  const hasTargetEvents = (row: number) => row < targetData.users.size;
  const carve = holdOutColdStartUsers(target, (row) => hasTargetEvents(row) && sourceUsers.has(target.userDbIds[row]!), share, seed);
  const alternativeSources = options.retrainedSources ? await loadRetrainedSources(gdb, source) : [];
  return {
    source,
    target: carve.prepared,
    coldStartTestUsers: carve.users,
    coldStartCarve: { share, seed, users: carve.users },
    ...(alternativeSources.length > 0 ? { alternativeSources } : {}),
  };
}

/** 0.1 for a generated split, 0 for a fixed (file) split: a given test set is kept as it is. */
export function defaultColdStartShare(split: SplitSpec): number {
  return split.kind === 'file' ? 0 : 0.1;
}

/**
 * Moves every train/validation interaction of a seeded share of eligible users into test,
 * so that evaluation has users with no target history at all (served from transfer alone).
 */
export function holdOutColdStartUsers(
  target: PreparedDomain,
  eligible: (userRow: number) => boolean,
  share: number,
  seed: number,
): { prepared: PreparedDomain; users: number; userDbIds: Int32Array } {
  if (!(share >= 0 && share < 1)) throw new GraftError('BAD_INPUT', `cold-start share ${share} must be in [0, 1); use e.g. 0.1`);
  if (share === 0) return { prepared: target, users: 0, userDbIds: new Int32Array(0) };
  const rng = createRng(seed);
  const held = new Uint8Array(target.userDbIds.length);
  let count = 0;
  for (let u = 0; u < held.length; u++) {
    if (eligible(u) && rng.next() < share) {
      held[u] = 1;
      count++;
    }
  }
  const split = (ex: Examples | undefined) => {
    const keep: number[] = [];
    const move: number[] = [];
    if (ex) for (let i = 0; i < ex.users.length; i++) (held[ex.users[i]!] ? move : keep).push(i);
    return { keep: pick(ex, keep), move: pick(ex, move) };
  };
  const train = split(target.train);
  const validation = split(target.validation);
  const test = split(target.test);
  const heldTest = concatExamples(test.keep, test.move, train.move, validation.move);
  return {
    prepared: { ...target, train: train.keep, validation: target.validation && validation.keep, test: heldTest },
    users: count,
    userDbIds: target.userDbIds.filter((_, u) => held[u] === 1),
  };
}

/**
 * Keeps at most `max` training interactions per user, a seeded choice among all of them (the
 * validation carve included), and carves validation again from what is kept: the sparse-target
 * variant. Each user then has at most `max` rows in train and validation together, so at most
 * `max` rows feed training, histories, seen-item exclusion and popularity.
 */
export function capTrainPerUser(target: PreparedDomain, max: number, seed: number): PreparedDomain {
  if (!Number.isInteger(max) || max < 1) throw new GraftError('BAD_INPUT', `max training interactions per user ${max} is not a positive integer; use e.g. 2`);
  const rng = createRng(seed);
  // Train, then validation: each user's validation row is their last training interaction, so
  // this keeps every user's rows in time order.
  const all = concatExamples(target.train, target.validation);
  const byUser = new Map<number, number[]>();
  all.users.forEach((u, i) => {
    const list = byUser.get(u);
    if (list) list.push(i);
    else byUser.set(u, [i]);
  });
  const kept: number[][] = [];
  for (const list of byUser.values()) {
    const order = list.slice();
    for (let i = order.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    kept.push(order.slice(0, max).sort((a, b) => a - b));
  }
  if (!target.validation) return { ...target, train: pick(all, kept.flat().sort((a, b) => a - b)) };
  // As prepareDataset carves it: a user's last kept row, for users keeping more than one.
  const train: number[] = [];
  const validation: number[] = [];
  for (const rows of kept) {
    if (rows.length > 1) {
      train.push(...rows.slice(0, -1));
      validation.push(rows.at(-1)!);
    } else train.push(...rows);
  }
  return { ...target, train: pick(all, train.sort((a, b) => a - b)), validation: pick(all, validation.sort((a, b) => a - b)) };
}

function pick(ex: Examples | undefined, rows: number[]): Examples {
  const users = new Int32Array(rows.length);
  const items = new Int32Array(rows.length);
  const weights = new Float32Array(rows.length);
  rows.forEach((r, k) => {
    users[k] = ex!.users[r]!;
    items[k] = ex!.items[r]!;
    weights[k] = ex!.weights ? ex!.weights[r]! : 1;
  });
  return { users, items, weights };
}

function rowLookup(dbIds: Int32Array): Map<number, number> {
  const m = new Map<number, number>();
  dbIds.forEach((id, row) => m.set(id, row));
  return m;
}

/** Dataset interactions -> source model rows (events of users or items the model lacks are dropped). */
function remap(
  interactions: { users: Int32Array; items: Int32Array; weights: Float32Array },
  userDbIds: Int32Array,
  itemDbIds: Int32Array,
  userRow: Map<number, number>,
  itemRow: Map<number, number>,
): Examples {
  const rows: number[] = [];
  const users: number[] = [];
  const items: number[] = [];
  for (let i = 0; i < interactions.users.length; i++) {
    const u = userRow.get(userDbIds[interactions.users[i]!]!);
    const it = itemRow.get(itemDbIds[interactions.items[i]!]!);
    if (u === undefined || it === undefined) continue;
    rows.push(i);
    users.push(u);
    items.push(it);
  }
  return { users: Int32Array.from(users), items: Int32Array.from(items), weights: Float32Array.from(rows, (i) => interactions.weights[i]!) };
}

/** Token lists in the source model's item row order. */
function reorderTokens(tokens: { offsets: Int32Array; tokens: readonly string[] }, itemDbIds: Int32Array, datasetItemOf: Map<number, number>) {
  const offsets = new Int32Array(itemDbIds.length + 1);
  const out: string[] = [];
  itemDbIds.forEach((id, row) => {
    const i = datasetItemOf.get(id);
    if (i !== undefined) for (let k = tokens.offsets[i]!; k < tokens.offsets[i + 1]!; k++) out.push(tokens.tokens[k]!);
    offsets[row + 1] = out.length;
  });
  return { offsets, tokens: out };
}
