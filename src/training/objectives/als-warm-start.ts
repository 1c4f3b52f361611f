import type { EmbeddingTable } from '../../model/embedding-table.js';
import { TwoTowerModel } from '../../model/two-tower.model.js';
import { startsRowsAtRowInit } from '../../model/objective.js';
import type { TrainingData } from '../example-mixture.js';
import { fitImplicitAls } from '../implicit-als.js';
import { itemEventCounts } from '../popularity-bias.js';
import type { TrainResult } from '../train.js';

/**
 * The softmax towers' ID rows started at an implicit-ALS solution of the fit's own events
 * (`rowInit: 'implicit-als'`) instead of the initialiser's random draw.
 *
 * Why: the towers lose to implicit ALS on the middle of the catalogue (BENCHMARKS.md "Where the
 * softmax towers lose to implicit ALS"): an item with 5-20 events takes a few dozen lazy-Adam
 * steps before early stopping must end the joint fit, too few to leave its random start, while
 * ALS solves the same row exactly from its users. Started at that solution, the rows of such
 * items already sit where their users put them, and the gradient steps train the layers above
 * and move the rows the data has enough of (NCF's recipe of starting a neural model at a
 * factorisation's embeddings: He et al., "Neural Collaborative Filtering", WWW 2017, §3.4.1).
 *
 * How: an ID-rows model of the towers' ID width is solved by `alsSweeps` sweeps of implicit ALS
 * (`alsAlpha`, `alsRegularization`, `alsCgSteps` of the model's config: the implicit-als
 * objective's defaults unless set) on `data`, then each table's rows that have events in `data`
 * and are not frozen are overwritten with the solution, rescaled so that their root mean square
 * equals that of the random draw they replace: the rows keep the scale the learning rate and the
 * initialiser were chosen for, and only their directions change. Rows without events (no solution)
 * keep their draw; the token table and the dense layers are not touched.
 *
 * Returns the solve's result (its `aborted` flag is the caller's to honour), or undefined when
 * nothing was solved (no events).
 */
export async function warmStartRows(model: TwoTowerModel, data: TrainingData, options: { threads: number; signal?: AbortSignal }): Promise<TrainResult | undefined> {
  if (data.users.length === 0) return undefined;
  const als = alsTwin(model);
  try {
    const solved = await fitImplicitAls(als, data, { epochs: model.config.alsSweeps, threads: options.threads, signal: options.signal });
    if (solved.aborted) return solved;
    // Rows with events of weight > 0, counted as the popularity term counts items (users: the same count over the user column).
    copyRescaled(als.userTable, model.userTable, itemEventCounts({ items: data.users, weights: data.weights }, model.users));
    copyRescaled(als.itemTable, model.itemTable, itemEventCounts(data, model.items));
    return solved;
  } finally {
    als.dispose();
  }
}

/** Whether a transfer with `itemInit` starts a model of `objective`'s new rows at ALS (`warmStartNewRows`): asked for, on the softmax towers (implicit ALS and the hybrid solve their new rows anyway). */
export function startsNewRowsAtAls(itemInit: string | undefined, objective: string | undefined): boolean {
  return itemInit === 'implicit-als' && startsRowsAtRowInit(objective);
}

/**
 * A grafted model's new rows (the target's new items and users; `grafted` gives each row's source
 * row, -1 for a new one) started at an implicit-ALS solve of the target's events against the
 * grafted rows held fixed, as `warmStartRows` starts a fresh model's: the rows of a new item
 * with a few events start where its (pretrained) users put it, instead of at a random draw the
 * transfer's few steps cannot move far. The grafted rows enter the solve as they are, scaled per
 * table to a mean square norm of 1 (the regime of an implicit-ALS solution: a positive's
 * prediction near 1) and frozen; each new row with events is then copied back, rescaled to the
 * root mean square of the draw it replaces. Grafted rows, rows without events, the token table and
 * the layers are untouched. A transfer's `itemInit: 'implicit-als'` (off by default: on Sport ->
 * Cloth it lifts the softmax transfers, on Sport -> Phone it lowers them; BENCHMARKS.md "New rows
 * of a softmax transfer started at ALS").
 */
export async function warmStartNewRows(model: TwoTowerModel, data: TrainingData, grafted: { users: Int32Array; items: Int32Array }, options: { threads: number; signal?: AbortSignal }): Promise<TrainResult | undefined> {
  if (data.users.length === 0) return undefined;
  const als = alsTwin(model);
  try {
    holdGrafted(model.userTable, als.userTable, grafted.users);
    holdGrafted(model.itemTable, als.itemTable, grafted.items);
    const solved = await fitImplicitAls(als, data, { epochs: model.config.alsSweeps, threads: options.threads, signal: options.signal });
    if (solved.aborted) return solved;
    copyRescaled(als.userTable, model.userTable, newRowsWithEvents(itemEventCounts({ items: data.users, weights: data.weights }, model.users), grafted.users));
    copyRescaled(als.itemTable, model.itemTable, newRowsWithEvents(itemEventCounts(data, model.items), grafted.items));
    return solved;
  } finally {
    als.dispose();
  }
}

/** An ID-rows implicit-ALS model of `model`'s rows and ID width, with its ALS settings and seed. */
function alsTwin(model: TwoTowerModel): TwoTowerModel {
  const { config } = model;
  return TwoTowerModel.create({
    users: model.users,
    items: model.items,
    dim: model.userTable.dim,
    layers: [],
    objective: 'implicit-als',
    seed: config.seed,
    alsAlpha: config.alsAlpha,
    alsRegularization: config.alsRegularization,
    alsCgSteps: config.alsCgSteps,
  });
}

/** Copies the grafted rows (`sourceRow` >= 0) of `from` into `to`, scaled to a mean square row norm of 1, and freezes them there. */
function holdGrafted(from: EmbeddingTable, to: EmbeddingTable, sourceRow: Int32Array): void {
  const dim = to.dim;
  let squares = 0;
  let rows = 0;
  for (let r = 0; r < sourceRow.length; r++) {
    if (sourceRow[r]! < 0) continue;
    rows++;
    for (let x = r * dim; x < (r + 1) * dim; x++) squares += from.weights[x]! * from.weights[x]!;
  }
  if (rows === 0 || !(squares > 0)) return;
  const scale = 1 / Math.sqrt(squares / rows);
  for (let r = 0; r < sourceRow.length; r++) {
    if (sourceRow[r]! < 0) continue;
    for (let x = r * dim; x < (r + 1) * dim; x++) to.weights[x] = from.weights[x]! * scale;
    to.frozen[r] = 1;
  }
}

/** `counts` with the grafted rows' (`sourceRow` >= 0) set to 0. */
function newRowsWithEvents(counts: Int32Array, sourceRow: Int32Array): Int32Array {
  for (let r = 0; r < counts.length; r++) if (sourceRow[r]! >= 0) counts[r] = 0;
  return counts;
}

/**
 * Copies the rows of `from` with a count above 0 in `rows` (and not frozen in `to`) into `to`, scaled so the
 * copied rows' root mean square equals that of the rows they replace.
 */
function copyRescaled(from: EmbeddingTable, to: EmbeddingTable, rows: Int32Array): void {
  const dim = to.dim;
  let solvedSquares = 0;
  let drawnSquares = 0;
  for (let r = 0; r < rows.length; r++) {
    if (!rows[r] || to.frozen[r] === 1) continue;
    for (let x = r * dim; x < (r + 1) * dim; x++) {
      solvedSquares += from.weights[x]! * from.weights[x]!;
      drawnSquares += to.weights[x]! * to.weights[x]!;
    }
  }
  if (!(solvedSquares > 0)) return;
  const scale = Math.sqrt(drawnSquares / solvedSquares);
  for (let r = 0; r < rows.length; r++) {
    if (!rows[r] || to.frozen[r] === 1) continue;
    for (let x = r * dim; x < (r + 1) * dim; x++) to.weights[x] = from.weights[x]! * scale;
  }
}
