import type { NamedWeight } from '../model/named-weight.js';

/** How far one weight moved from model a to model b. */
export interface LayerChange {
  /** Weight name, e.g. `user.dense.0.kernel`, `item.embedding`. */
  name: string;
  kind: 'dense' | 'table';
  /**
   * ||W_b - W_a|| / ||W_a|| (Frobenius), over the shared rows for ID tables; null when not
   * comparable, or when W_a is all zeros and W_b is not (no finite ratio).
   */
  relativeChange: number | null;
  /** False when the weight is missing from one model, the shapes differ, or an ID table shares no rows. */
  comparable: boolean;
  /** ID tables: rows compared (entities in both models' vocabularies); null for other weights. */
  sharedRows: number | null;
}

/** The database ids behind the rows of a model's ID tables (`vocab:users` / `vocab:items` artifacts). */
export interface RowIds {
  users: Int32Array | null;
  items: Int32Array | null;
}

/** ID tables whose rows are entities (mapped through the models' vocabularies); other tables (token buckets) are row-aligned by construction. */
const ID_TABLES: Record<string, keyof RowIds> = { 'user.embedding': 'users', 'item.embedding': 'items' };

/**
 * Per-weight relative change from a to b, in a's order, then weights only b has. Dense
 * weights and the hashed token table compare element-wise when shapes match; the user and
 * item ID tables compare on the rows both models have (matched through their id artifacts),
 * which is how far fine-tuning moved each pretrained row. W_b = W_a gives 0, also when both are 0.
 *
 * @example
 * layerChanges(await loadWeights(db, source), await loadWeights(db, transferred), sourceIds, transferredIds);
 */
export function layerChanges(a: readonly NamedWeight[], b: readonly NamedWeight[], idsA: RowIds, idsB: RowIds): LayerChange[] {
  const inB = new Map(b.map((w) => [w.name, w]));
  const out: LayerChange[] = [];
  for (const wa of a) {
    const wb = inB.get(wa.name);
    inB.delete(wa.name);
    const vocabulary = ID_TABLES[wa.name];
    if (!wb) {
      out.push({ name: wa.name, kind: wa.kind, relativeChange: null, comparable: false, sharedRows: vocabulary ? 0 : null });
    } else if (vocabulary) {
      out.push(tableChange(wa, wb, idsA[vocabulary], idsB[vocabulary]));
    } else if (sameShape(wa.shape, wb.shape)) {
      out.push({ name: wa.name, kind: wa.kind, relativeChange: relative(wa.data, wb.data), comparable: true, sharedRows: null });
    } else {
      out.push({ name: wa.name, kind: wa.kind, relativeChange: null, comparable: false, sharedRows: null });
    }
  }
  for (const wb of inB.values()) {
    out.push({ name: wb.name, kind: wb.kind, relativeChange: null, comparable: false, sharedRows: ID_TABLES[wb.name] ? 0 : null });
  }
  return out;
}

function tableChange(wa: NamedWeight, wb: NamedWeight, idsA: Int32Array | null, idsB: Int32Array | null): LayerChange {
  const dim = wa.shape[1];
  const none = { name: wa.name, kind: wa.kind, relativeChange: null, comparable: false, sharedRows: 0 };
  if (!idsA || !idsB || dim !== wb.shape[1] || idsA.length !== wa.shape[0] || idsB.length !== wb.shape[0]) return none;
  const rowInB = new Map<number, number>();
  idsB.forEach((id, row) => rowInB.set(id, row));
  let diff = 0;
  let base = 0;
  let shared = 0;
  idsA.forEach((id, rowA) => {
    const rowB = rowInB.get(id);
    if (rowB === undefined) return;
    shared++;
    for (let j = 0; j < dim; j++) {
      const x = wa.data[rowA * dim + j];
      const d = wb.data[rowB * dim + j] - x;
      diff += d * d;
      base += x * x;
    }
  });
  if (shared === 0) return none;
  return { name: wa.name, kind: wa.kind, relativeChange: ratio(diff, base), comparable: true, sharedRows: shared };
}

function relative(a: Float32Array, b: Float32Array): number | null {
  let diff = 0;
  let base = 0;
  for (let i = 0; i < a.length; i++) {
    const d = b[i] - a[i];
    diff += d * d;
    base += a[i] * a[i];
  }
  return ratio(diff, base);
}

/** Undefined (null) when W_a is all zeros but W_b is not: no finite ratio, and GraphQL floats must be finite. */
function ratio(diffSquared: number, baseSquared: number): number | null {
  if (diffSquared === 0) return 0;
  return baseSquared === 0 ? null : Math.sqrt(diffSquared / baseSquared);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
