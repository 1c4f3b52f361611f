import type { TwoTowerModel } from '../model/two-tower.model.js';
import type { Alignment } from './alignment.js';

/**
 * How rows new in the target (target items) start before fine-tuning: 'random' (the draw),
 * 'co-users' (`initNewItemsFromCoUsers`), 'implicit-als' (new items and new users solved by
 * implicit ALS against the grafted rows: `warmStartNewRows`; the softmax towers).
 */
export type NewItemInit = 'random' | 'co-users' | 'implicit-als';

export const NEW_ITEM_INITS: readonly NewItemInit[] = ['random', 'co-users', 'implicit-als'];

/** Interactions over the transferred model's rows. */
export interface RowInteractions {
  users: Int32Array;
  items: Int32Array;
}

/**
 * Places each new item row (an item without a source row) from the pretrained item rows its
 * users chose in the source: c = the mean, over the target users who interacted with the
 * item, of each user's mean pretrained source row. Means of many rows all crowd around the
 * mean m of the pretrained rows, so the row is set to m + s (c - m), with s making the
 * deviation |s (c - m)| the root-mean-square deviation of the pretrained rows from m: new
 * items spread like source items do, each towards the source items its buyers chose (the
 * cross-domain signal a joint factorisation learns). Items whose users have no source
 * history, and frozen rows, keep their row. Deterministic (no draws). Returns the rows placed.
 *
 * @param sourceEvents source interactions mapped to the model's rows (`mapSourceInteractions`)
 * @param targetEvents target training interactions (model rows)
 */
export function initNewItemsFromCoUsers(model: TwoTowerModel, alignment: Alignment, sourceEvents: RowInteractions, targetEvents: RowInteractions): number {
  const table = model.itemTable;
  const dim = table.dim;
  const weights = table.weights;
  const users = model.users;
  // Per user: the sum and count of the pretrained item rows of their source events.
  const userSum = new Float64Array(users * dim);
  const userCount = new Int32Array(users);
  for (let e = 0; e < sourceEvents.users.length; e++) {
    const u = sourceEvents.users[e]!;
    const row = sourceEvents.items[e]!;
    if (alignment.itemSourceRow[row]! < 0) continue;
    userCount[u]!++;
    const src = row * dim;
    const dst = u * dim;
    for (let k = 0; k < dim; k++) userSum[dst + k] += weights[src + k]!;
  }
  const mean = new Float64Array(dim);
  let pretrained = 0;
  for (let row = 0; row < table.rows; row++) {
    if (alignment.itemSourceRow[row]! < 0) continue;
    pretrained++;
    for (let k = 0; k < dim; k++) mean[k] += weights[row * dim + k]!;
  }
  if (pretrained === 0) return 0;
  for (let k = 0; k < dim; k++) mean[k] /= pretrained;
  let squared = 0;
  for (let row = 0; row < table.rows; row++) {
    if (alignment.itemSourceRow[row]! < 0) continue;
    for (let k = 0; k < dim; k++) squared += (weights[row * dim + k]! - mean[k]!) ** 2;
  }
  const spread = Math.sqrt(squared / pretrained);
  // Per new item: the sum of its users' mean source rows.
  const itemSum = new Float64Array(table.rows * dim);
  const itemCount = new Int32Array(table.rows);
  for (let e = 0; e < targetEvents.users.length; e++) {
    const u = targetEvents.users[e]!;
    const row = targetEvents.items[e]!;
    if (alignment.itemSourceRow[row]! >= 0 || userCount[u] === 0) continue;
    itemCount[row]!++;
    const inv = 1 / userCount[u]!;
    for (let k = 0; k < dim; k++) itemSum[row * dim + k] += userSum[u * dim + k]! * inv;
  }
  let placed = 0;
  const deviation = new Float64Array(dim);
  for (let row = 0; row < table.rows; row++) {
    if (itemCount[row] === 0 || table.frozen[row] === 1) continue;
    let norm = 0;
    for (let k = 0; k < dim; k++) {
      deviation[k] = itemSum[row * dim + k]! / itemCount[row]! - mean[k]!;
      norm += deviation[k]! ** 2;
    }
    norm = Math.sqrt(norm);
    if (!(norm > 0)) continue;
    const scale = spread / norm;
    for (let k = 0; k < dim; k++) weights[row * dim + k] = mean[k]! + deviation[k]! * scale;
    placed++;
  }
  return placed;
}
