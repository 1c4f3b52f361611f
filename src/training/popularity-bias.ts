import type { TwoTowerModel } from '../model/two-tower.model.js';
import type { TrainingData } from './example-mixture.js';

/**
 * Sets a model's popularity term (`config.popularityWeight` β > 0): item row i's
 * bias becomes β·log(1 + n_i), n_i = the events of `data` itself on row i with a weight > 0
 * (each event counts 1, whatever its weight). `data.replay` is not counted: in a transfer the
 * primary events are the target's and the replayed or joined ones the source's, and only the
 * target's rows are ranked, so the term is the target's popularity; source-only item rows get 0.
 * The bias is not a learned parameter: it overwrites whatever the rows held (a grafted source
 * bias, a strategy's freezing) on every fit. With β = 0 the model has no bias table and nothing
 * changes. Returns the counts (for tests and reports), or undefined when there is no term.
 */
export function setPopularityBias(model: TwoTowerModel, data: Pick<TrainingData, 'items' | 'weights'>): Int32Array | undefined {
  const beta = model.config.popularityWeight;
  const table = model.itemBiasTable;
  if (!(beta > 0) || !table || model.config.itemBias) return undefined;
  const counts = itemEventCounts(data, table.rows);
  for (let i = 0; i < counts.length; i++) table.weights[i] = beta * Math.log1p(counts[i]!);
  return counts;
}

/** n_i of the popularity term: the events of `data` on item i in [0, `rows`) with a weight > 0 (each counts 1; no weights: every event). */
export function itemEventCounts(data: Pick<TrainingData, 'items' | 'weights'>, rows: number): Int32Array {
  const counts = new Int32Array(rows);
  for (let k = 0; k < data.items.length; k++) {
    const item = data.items[k]!;
    if (item >= 0 && item < rows && (data.weights?.[k] ?? 1) > 0) counts[item]++;
  }
  return counts;
}
