import type { TwoTowerModel } from '../model/two-tower.model.js';
import type { Alignment } from './alignment.js';

/** How rows new in the target (target items) start before fine-tuning. */
export type NewItemInit = 'random' | 'co-users';

export const NEW_ITEM_INITS: readonly NewItemInit[] = ['random', 'co-users'];

/** Interactions over the transferred model's rows. */
export interface RowInteractions {
  users: Int32Array;
  items: Int32Array;
}

/**
 * Places each new item row (an item without a source row) at the mean, over the target
 * users who interacted with it, of the pretrained item rows those users interacted with in
 * the source; the mean is rescaled to the root-mean-square norm of the pretrained item rows
 * (a mean of many rows is shorter than one row, and the frozen item tower was trained on
 * single rows). So a target item starts where the source items its buyers chose are, which
 * is the cross-domain signal a joint factorisation learns; items whose users have no source
 * history keep their random row. Deterministic (no draws). Returns the rows placed.
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
  let squared = 0;
  let pretrained = 0;
  for (let row = 0; row < table.rows; row++) {
    if (alignment.itemSourceRow[row]! < 0) continue;
    pretrained++;
    for (let k = 0; k < dim; k++) squared += weights[row * dim + k]! ** 2;
  }
  if (pretrained === 0) return 0;
  const rms = Math.sqrt(squared / pretrained);
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
  for (let row = 0; row < table.rows; row++) {
    if (itemCount[row] === 0 || table.frozen[row] === 1) continue;
    let norm = 0;
    for (let k = 0; k < dim; k++) norm += itemSum[row * dim + k]! ** 2;
    norm = Math.sqrt(norm);
    if (!(norm > 0)) continue;
    const scale = rms / norm;
    for (let k = 0; k < dim; k++) weights[row * dim + k] = itemSum[row * dim + k]! * scale;
    placed++;
  }
  return placed;
}
