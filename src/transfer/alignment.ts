import { GraftError } from '../errors.js';

/** The database ids behind a model's (or dataset's) dense user and item rows. */
export interface RowVocabulary {
  /** `users.id` per user row. */
  readonly userDbIds: Int32Array;
  /** `items.id` per item row. */
  readonly itemDbIds: Int32Array;
}

/**
 * How the rows of a transferred model relate to the source model's rows.
 *
 * Row order of the transferred model: first the target dataset's users (in dataset order,
 * so target interactions index it directly), then users known only to the source (they have
 * no target history and are served from their transferred embedding). Items likewise:
 * target items first, then the source items, kept so that source replay can train on them;
 * only the first `targetItems` rows are candidates for the target domain.
 */
export interface Alignment {
  readonly userDbIds: Int32Array;
  /** Source row of each user row, or -1 for a user new in the target. */
  readonly userSourceRow: Int32Array;
  readonly targetUsers: number;
  readonly itemDbIds: Int32Array;
  /** Source row of each item row, or -1 for a new item. */
  readonly itemSourceRow: Int32Array;
  readonly targetItems: number;
  readonly overlap: OverlapReport;
}

/** Who is where: the numbers every transfer report starts with. */
export interface OverlapReport {
  /** Users with history in both domains: they keep their pretrained row. */
  usersInBoth: number;
  /** Users only in the target: new rows. */
  targetOnlyUsers: number;
  /** Users with source history but none in the target (cold-start there). */
  usersWithoutTargetHistory: number;
  targetUsers: number;
  sourceUsers: number;
  targetItems: number;
  sourceItems: number;
  /** Items present in both vocabularies (non-zero only when transferring within a domain). */
  sharedItems: number;
}

/**
 * Aligns a target dataset's rows with a source model's rows through global database ids.
 *
 * @example
 * const a = alignDomains(sourceModelVocab, { userDbIds: ds.users.dbIds, itemDbIds: ds.items.dbIds });
 * a.overlap.usersInBoth; // users whose pretrained row carries over
 */
export function alignDomains(source: RowVocabulary, target: RowVocabulary): Alignment {
  const users = alignRows(source.userDbIds, target.userDbIds);
  const items = alignRows(source.itemDbIds, target.itemDbIds);
  const usersInBoth = countMapped(users.sourceRow, target.userDbIds.length);
  if (usersInBoth === 0) {
    throw new GraftError(
      'BAD_INPUT',
      `no user of the target domain has history in the source model's domain (${source.userDbIds.length} source users, ${target.userDbIds.length} target users); transfer needs shared users: import both domains with the same user ids`,
    );
  }
  return {
    userDbIds: users.dbIds,
    userSourceRow: users.sourceRow,
    targetUsers: target.userDbIds.length,
    itemDbIds: items.dbIds,
    itemSourceRow: items.sourceRow,
    targetItems: target.itemDbIds.length,
    overlap: {
      usersInBoth,
      targetOnlyUsers: target.userDbIds.length - usersInBoth,
      usersWithoutTargetHistory: users.dbIds.length - target.userDbIds.length,
      targetUsers: target.userDbIds.length,
      sourceUsers: source.userDbIds.length,
      targetItems: target.itemDbIds.length,
      sourceItems: source.itemDbIds.length,
      sharedItems: countMapped(items.sourceRow, target.itemDbIds.length),
    },
  };
}

/**
 * Maps interactions indexed by source rows onto the transferred model's rows (for replay).
 * Interactions whose user or item has no row there are dropped.
 */
export function mapSourceInteractions(
  alignment: Alignment,
  source: { users: Int32Array; items: Int32Array; weights?: Float32Array },
): { users: Int32Array; items: Int32Array; weights: Float32Array } {
  const userRow = inverse(alignment.userSourceRow);
  const itemRow = inverse(alignment.itemSourceRow);
  const n = source.users.length;
  const users = new Int32Array(n);
  const items = new Int32Array(n);
  const weights = new Float32Array(n);
  let k = 0;
  for (let i = 0; i < n; i++) {
    const u = userRow[source.users[i]!] ?? -1;
    const it = itemRow[source.items[i]!] ?? -1;
    if (u < 0 || it < 0) continue;
    users[k] = u;
    items[k] = it;
    weights[k] = source.weights ? source.weights[i]! : 1;
    k++;
  }
  return { users: users.slice(0, k), items: items.slice(0, k), weights: weights.slice(0, k) };
}

function alignRows(sourceDbIds: Int32Array, targetDbIds: Int32Array): { dbIds: Int32Array; sourceRow: Int32Array } {
  const sourceIndex = new Map<number, number>();
  for (let r = 0; r < sourceDbIds.length; r++) sourceIndex.set(sourceDbIds[r]!, r);
  const used = new Uint8Array(sourceDbIds.length);
  const dbIds: number[] = Array.from(targetDbIds);
  const sourceRow: number[] = [];
  for (const id of targetDbIds) {
    const r = sourceIndex.get(id);
    sourceRow.push(r ?? -1);
    if (r !== undefined) used[r] = 1;
  }
  for (let r = 0; r < sourceDbIds.length; r++) {
    if (used[r]) continue;
    dbIds.push(sourceDbIds[r]!);
    sourceRow.push(r);
  }
  return { dbIds: Int32Array.from(dbIds), sourceRow: Int32Array.from(sourceRow) };
}

function countMapped(sourceRow: Int32Array, first: number): number {
  let n = 0;
  for (let r = 0; r < first; r++) if (sourceRow[r]! >= 0) n++;
  return n;
}

/** source row -> transferred row. */
function inverse(sourceRow: Int32Array): Int32Array {
  let max = -1;
  for (const r of sourceRow) if (r > max) max = r;
  const out = new Int32Array(max + 1).fill(-1);
  for (let row = 0; row < sourceRow.length; row++) if (sourceRow[row]! >= 0) out[sourceRow[row]!] = row;
  return out;
}
