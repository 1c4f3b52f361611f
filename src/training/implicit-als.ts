import { GraftError } from '../errors.js';
import type { EmbeddingTable } from '../model/embedding-table.js';
import type { TwoTowerModel } from '../model/two-tower.model.js';
import { BestEpochTracker } from './best-epoch.js';
import type { EarlyStoppingOptions } from './early-stopping.js';
import type { TrainingData } from './example-mixture.js';
import type { EpochProgress, EpochRecord, StepProgress, TrainResult } from './train.js';

export interface ImplicitAlsOptions {
  /** Sweeps; each solves every trainable item row, then every trainable user row. */
  epochs: number;
  /** Checked every `ROWS_PER_YIELD` rows; on abort returns with `aborted: true` (no restore). */
  signal?: AbortSignal;
  /** Validation metric after each sweep, higher is better. */
  validate?: (model: TwoTowerModel, epoch: number) => Promise<number> | number;
  earlyStopping?: EarlyStoppingOptions;
  /** After each half-sweep (step 1 = items, step 2 = users); `loss` is the objective per observed pair. */
  onStep?: (progress: StepProgress) => void;
  onEpoch?: (progress: EpochProgress) => Promise<void> | void;
}

/** Observed (row, column) pairs of one side in CSR form, with the confidence weight of each. */
export interface ConfidenceRows {
  /** `[rows + 1]` */
  offsets: Int32Array;
  cols: Int32Array;
  /** alpha x summed event weight of the pair (> 0). */
  confidence: Float32Array;
  /** Per row: bit 1 = has primary events, bit 2 = has replayed events; 0 = no events (in no zero pair). */
  domains: Uint8Array;
}

/** Rows solved between two looks at the abort signal and the event loop. */
const ROWS_PER_YIELD = 2048;

/**
 * Trains the ID tables of an `objective: 'implicit-als'` model by implicit alternating least
 * squares (Hu, Koren & Volinsky 2008): every observed (user, item) pair has preference 1
 * and confidence 1 + alpha * w (w = the summed event weight, replayed events times the
 * replay weight), every other pair preference 0 and confidence 1; each half-sweep solves
 * the rows of one table exactly, by Cholesky (or approximately, by `alsCgSteps`
 * conjugate-gradient steps warm-started from the current rows), against the other's:
 *
 *   (YᵀY + Σ_j c_j y_j y_jᵀ + λ I) x* = Σ_j (1 + c_j) y_j
 *
 * "Every other pair" means within a domain: the primary events and the replayed ones are
 * two domains, and a user x item pair is a zero only when both take part in a domain in
 * common (YᵀY sums those rows). A user with no target events (a cold-start user, whose
 * target events are all held out) is unknown to the target items, not negative for every
 * one of them; counted as negative, their pretrained rows would be pushed away from every
 * target item, which is exactly who transfer is for (synthetic test: cold-start HR@10 at
 * popularity level otherwise).
 *
 * Rows are frozen (left bit-identical) when their table marks them frozen, which is how the
 * transfer strategies keep pretrained rows. A row whose learning-rate multiplier m < 1
 * (FULL's pretrained rows) moves only m of the way to its solution each sweep,
 * x ← x + m (x* - x): the exact-solve counterpart of a lower learning rate (m = 0 never
 * moves). Every event counts in every sweep, so `replay.fraction` does not apply. Returns
 * the same record as `train`.
 *
 * @example
 * const model = TwoTowerModel.create({ users, items, layers: [], objective: 'implicit-als', alsAlpha: 40 });
 * const result = await fitImplicitAls(model, { users: eventUsers, items: eventItems }, { epochs: 15 });
 */
export async function fitImplicitAls(model: TwoTowerModel, data: TrainingData, options: ImplicitAlsOptions): Promise<TrainResult> {
  const { config } = model;
  if (model.objective.layers !== 'id-rows') {
    throw new GraftError('BAD_INPUT', `fitImplicitAls solves the ID rows of models without layers (objective implicit-als), this one has objective "${config.objective}"; fit it with its own objective (objectiveNamed(name).fit)`);
  }
  const { epochs, signal } = options;
  if (!Number.isInteger(epochs) || epochs < 0) throw new GraftError('BAD_INPUT', `epochs = ${epochs}; use an integer >= 0`);
  const tracker = new BestEpochTracker(options.validate, options.earlyStopping);
  const alpha = config.alsAlpha;
  const reg = config.alsRegularization;
  const { byUser, byItem } = confidenceMatrix(data, model.users, model.items, alpha);
  const observed = byUser.cols.length;
  const userSteps = rowSteps(model.userTable);
  const itemSteps = rowSteps(model.itemTable);

  const halves: [EmbeddingTable, EmbeddingTable, ConfidenceRows, Uint8Array, Float32Array | undefined][] = [
    // Items first: after a graft the user side carries the pretrained knowledge and new item rows are random.
    [model.itemTable, model.userTable, byItem, byUser.domains, itemSteps],
    [model.userTable, model.itemTable, byUser, byItem.domains, userSteps],
  ];
  const history: EpochRecord[] = [];
  const progress: StepProgress = { epoch: 0, step: 0, steps: 2, loss: 0, examplesPerSecond: 0, lr: 0 };
  let solvingMs = 0;
  let aborted = false;
  let stoppedEarly = false;
  for (let epoch = 1; epoch <= epochs && !aborted && !stoppedEarly; epoch++) {
    const epochStart = performance.now();
    let epochSolvingMs = 0;
    let loss = NaN;
    for (let half = 0; half < 2; half++) {
      const [table, other, rows, otherDomains, steps] = halves[half]!;
      const t0 = performance.now();
      aborted = !(await solveTableRows(table, other, rows, otherDomains, { alpha, reg, steps, signal, cgSteps: config.alsCgSteps }));
      epochSolvingMs += performance.now() - t0;
      if (aborted) break;
      // The objective costs about a tenth of a half-sweep: after the item half only when someone watches the steps.
      if (half === 1 || options.onStep) {
        loss = implicitObjective(model.userTable, model.itemTable, byUser, byItem.domains, reg) / Math.max(1, observed);
        if (!Number.isFinite(loss)) {
          throw new GraftError('BAD_INPUT', `implicit ALS diverged: objective is ${loss} at sweep ${epoch}; raise alsRegularization (now ${reg})`);
        }
      }
      if (options.onStep) {
        progress.epoch = epoch;
        progress.step = half + 1;
        progress.loss = loss;
        progress.examplesPerSecond = epochSolvingMs > 0 ? ((half + 1) * observed * 1000) / epochSolvingMs : 0;
        options.onStep(progress);
      }
    }
    solvingMs += epochSolvingMs;
    if (aborted) break;
    const { validation, stop } = await tracker.afterEpoch(model, epoch, epochs);
    stoppedEarly = stop;
    const record: EpochRecord = {
      epoch,
      loss,
      validation,
      examplesPerSecond: epochSolvingMs > 0 ? (2 * observed * 1000) / epochSolvingMs : 0,
      elapsedMs: performance.now() - epochStart,
      lr: 0,
    };
    history.push(record);
    if (options.onEpoch) await options.onEpoch({ ...record, epochs });
  }
  if (!aborted) tracker.restore(model, history.length);
  return {
    epochs: history.length,
    steps: 2 * history.length,
    history,
    ...tracker.result,
    examplesPerSecond: solvingMs > 0 ? (2 * observed * history.length * 1000) / solvingMs : 0,
    stoppedEarly,
    aborted,
  };
}

/** Primary and replayed events as confidence rows per user and per item (duplicate pairs summed; zero weights dropped). */
export function confidenceMatrix(data: TrainingData, users: number, items: number, alpha: number): { byUser: ConfidenceRows; byItem: ConfidenceRows } {
  const sets = [
    { set: data, scale: 1, name: 'data', domain: 1 },
    ...(data.replay ? [{ set: data.replay as TrainingData, scale: data.replay.weight, name: 'data.replay', domain: 2 }] : []),
  ];
  const userDomains = new Uint8Array(users);
  const itemDomains = new Uint8Array(items);
  const counts = new Int32Array(users + 1);
  for (const { set, name } of sets) {
    if (set.items.length !== set.users.length || (set.weights && set.weights.length !== set.users.length)) {
      throw new GraftError('BAD_INPUT', `${name} has ${set.users.length} users, ${set.items.length} items and ${set.weights?.length ?? 'no'} weights; pass parallel arrays`);
    }
    for (let k = 0; k < set.users.length; k++) {
      const u = set.users[k]!;
      const i = set.items[k]!;
      if (!(u >= 0 && u < users)) throw new GraftError('BAD_INPUT', `${name} user row ${u} is outside the user table (0..${users - 1}); remap users to model rows`);
      if (!(i >= 0 && i < items)) throw new GraftError('BAD_INPUT', `${name} item row ${i} is outside the item table (0..${items - 1}); remap items to model rows`);
      counts[u + 1]++;
    }
  }
  for (let u = 0; u < users; u++) counts[u + 1] += counts[u]!;
  const cols = new Int32Array(counts[users]!);
  const weight = new Float64Array(counts[users]!);
  const fill = counts.slice(0, users);
  for (const { set, scale, domain } of sets) {
    for (let k = 0; k < set.users.length; k++) {
      const at = fill[set.users[k]!]!++;
      cols[at] = set.items[k]!;
      weight[at] = (set.weights?.[k] ?? 1) * scale;
      if (weight[at]! > 0) {
        userDomains[set.users[k]!] |= domain;
        itemDomains[set.items[k]!] |= domain;
      }
    }
  }
  // Per row: sort by item, sum duplicates, drop pairs whose weight is 0.
  const offsets = new Int32Array(users + 1);
  const outCols: number[] = [];
  const outConfidence: number[] = [];
  for (let u = 0; u < users; u++) {
    const from = counts[u]!;
    const to = counts[u + 1]!;
    const order = Array.from({ length: to - from }, (_, k) => from + k).sort((a, b) => cols[a]! - cols[b]!);
    for (let k = 0; k < order.length; ) {
      const item = cols[order[k]!]!;
      let w = 0;
      for (; k < order.length && cols[order[k]!] === item; k++) w += weight[order[k]!]!;
      if (!(w >= 0) || !Number.isFinite(w)) throw new GraftError('BAD_INPUT', `event weight sum ${w} for user row ${u} and item row ${item} is not a finite number >= 0; fix the event weights`);
      if (w === 0) continue;
      outCols.push(item);
      outConfidence.push(alpha * w);
    }
    offsets[u + 1] = outCols.length;
  }
  const byUser = { offsets, cols: Int32Array.from(outCols), confidence: Float32Array.from(outConfidence), domains: userDomains };
  return { byUser, byItem: transposeRows(byUser, items, itemDomains) };
}

/** The same pairs by column (item rows), for the item half-sweep; `domains` are the columns'. */
function transposeRows(rows: ConfidenceRows, columns: number, domains: Uint8Array): ConfidenceRows {
  const offsets = new Int32Array(columns + 1);
  for (let k = 0; k < rows.cols.length; k++) offsets[rows.cols[k]! + 1]++;
  for (let c = 0; c < columns; c++) offsets[c + 1] += offsets[c]!;
  const fill = offsets.slice(0, columns);
  const cols = new Int32Array(rows.cols.length);
  const confidence = new Float32Array(rows.cols.length);
  for (let r = 0; r + 1 < rows.offsets.length; r++) {
    for (let k = rows.offsets[r]!; k < rows.offsets[r + 1]!; k++) {
      const at = fill[rows.cols[k]!]!++;
      cols[at] = r;
      confidence[at] = rows.confidence[k]!;
    }
  }
  return { offsets, cols, confidence, domains };
}

/** Each row's share of the way to its solution per sweep (its learning-rate multiplier, capped at 1); undefined when all are 1. */
function rowSteps(table: EmbeddingTable): Float32Array | undefined {
  const steps = new Float32Array(table.rows);
  let damped = false;
  for (let r = 0; r < table.rows; r++) {
    steps[r] = Math.min(1, Math.max(0, table.rowLearningRateMultiplier(r)));
    damped ||= steps[r]! < 1;
  }
  return damped ? steps : undefined;
}

export interface SolveOptions {
  alpha: number;
  reg: number;
  /** Per row: its share of the way to its solution (see `rowSteps`); default all 1. */
  steps?: Float32Array;
  signal?: AbortSignal;
  /**
   * 0 (default here; models default to 3): exact Cholesky solves. N > 0: N conjugate-gradient steps per row, warm-started
   * from the row's current value (Takács, Pilászy & Tikk 2011): O(N (f² + events·f)) per row
   * instead of O(f³ + events·f²); inexact, but the next sweep starts where this one ended.
   */
  cgSteps?: number;
}

/**
 * Solves every unfrozen row of `table` against the rows of `other` (see `fitImplicitAls`);
 * with `steps`, row r moves steps[r] of the way from its value to its solution.
 * Returns false when `signal` aborted it part-way (rows solved so far keep their new value).
 */
export async function solveTableRows(
  table: EmbeddingTable,
  other: EmbeddingTable,
  rows: ConfidenceRows,
  otherDomains: Uint8Array,
  options: SolveOptions,
): Promise<boolean> {
  const { alpha, reg, steps, signal } = options;
  const cgSteps = options.cgSteps ?? 0;
  const f = table.dim;
  if (other.dim !== f) throw new GraftError('BAD_INPUT', `tables have dims ${table.dim} and ${other.dim}; ALS needs equal dims`);
  const y = other.weights;
  const grams = domainGramians(y, f, otherDomains);
  if (cgSteps > 0) for (const g of grams) mirrorLower(g, f);
  const x = table.weights;
  const A = new Float64Array(f * f);
  const solution = new Float64Array(f);
  const cg = cgSteps > 0 ? new ConjugateGradient(f) : undefined;
  for (let r = 0; r < table.rows; r++) {
    if (r % ROWS_PER_YIELD === 0) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (signal?.aborted) return false;
    }
    const step = steps ? steps[r]! : 1;
    if (table.frozen[r] === 1 || step === 0) continue;
    const from = rows.offsets[r]!;
    const to = rows.offsets[r + 1]!;
    // No events: the exact solution is the zero row.
    solution.fill(0);
    if (from < to && cg) {
      cg.solve(grams[rows.domains[r]!]!, reg, y, rows, from, to, x.subarray(r * f, (r + 1) * f), cgSteps, solution);
    } else if (from < to) {
      A.set(grams[rows.domains[r]!]!);
      for (let a = 0; a < f; a++) A[a * f + a] += reg;
      for (let k = from; k < to; k++) {
        const o = rows.cols[k]! * f;
        const c = rows.confidence[k]!;
        for (let a = 0; a < f; a++) {
          const ya = y[o + a]!;
          solution[a] += (1 + c) * ya;
          const s = c * ya;
          for (let b = 0; b <= a; b++) A[a * f + b] += s * y[o + b]!;
        }
      }
      choleskySolve(A, solution, f);
    }
    for (let a = 0; a < f; a++) x[r * f + a] = step === 1 ? solution[a]! : x[r * f + a]! + step * (solution[a]! - x[r * f + a]!);
  }
  return true;
}

/** Copies the lower triangle of a `[f, f]` matrix onto its upper one (a full symmetric matrix for products). */
function mirrorLower(g: Float64Array, f: number): void {
  for (let a = 0; a < f; a++) for (let b = 0; b < a; b++) g[b * f + a] = g[a * f + b]!;
}

/** Conjugate-gradient steps on one row's normal equations, without forming them (scratch reused across rows). */
class ConjugateGradient {
  private readonly residual: Float64Array;
  private readonly direction: Float64Array;
  private readonly product: Float64Array;

  constructor(private readonly f: number) {
    this.residual = new Float64Array(f);
    this.direction = new Float64Array(f);
    this.product = new Float64Array(f);
  }

  /**
   * `out` = x after `steps` CG steps on (G + λI + Σ c_k y_k y_kᵀ) x = Σ (1 + c_k) y_k from `start`;
   * G is the full symmetric Gramian, the sums run over the row's pairs [from, to).
   */
  solve(gram: Float64Array, reg: number, y: Float32Array, rows: ConfidenceRows, from: number, to: number, start: Float32Array, steps: number, out: Float64Array): void {
    const { f, residual: res, direction: dir, product: ap } = this;
    for (let a = 0; a < f; a++) out[a] = start[a]!;
    // res = b - A x
    this.apply(gram, reg, y, rows, from, to, out, ap);
    res.fill(0);
    for (let k = from; k < to; k++) {
      const o = rows.cols[k]! * f;
      const w = 1 + rows.confidence[k]!;
      for (let a = 0; a < f; a++) res[a] += w * y[o + a]!;
    }
    let rr = 0;
    for (let a = 0; a < f; a++) {
      res[a] -= ap[a]!;
      dir[a] = res[a]!;
      rr += res[a]! * res[a]!;
    }
    for (let step = 0; step < steps && rr > 1e-20; step++) {
      this.apply(gram, reg, y, rows, from, to, dir, ap);
      let pAp = 0;
      for (let a = 0; a < f; a++) pAp += dir[a]! * ap[a]!;
      if (!(pAp > 0)) break;
      const alpha = rr / pAp;
      let next = 0;
      for (let a = 0; a < f; a++) {
        out[a] += alpha * dir[a]!;
        res[a] -= alpha * ap[a]!;
        next += res[a]! * res[a]!;
      }
      const beta = next / rr;
      for (let a = 0; a < f; a++) dir[a] = res[a]! + beta * dir[a]!;
      rr = next;
    }
  }

  /** out = (G + λI + Σ c_k y_k y_kᵀ) v */
  private apply(gram: Float64Array, reg: number, y: Float32Array, rows: ConfidenceRows, from: number, to: number, v: Float64Array, out: Float64Array): void {
    const f = this.f;
    for (let a = 0; a < f; a++) {
      let s = reg * v[a]!;
      const base = a * f;
      for (let b = 0; b < f; b++) s += gram[base + b]! * v[b]!;
      out[a] = s;
    }
    for (let k = from; k < to; k++) {
      const o = rows.cols[k]! * f;
      let dot = 0;
      for (let a = 0; a < f; a++) dot += y[o + a]! * v[a]!;
      const s = rows.confidence[k]! * dot;
      for (let a = 0; a < f; a++) out[a] += s * y[o + a]!;
    }
  }
}

/**
 * Lower triangles of YᵀY over the rows sharing a domain with each domain set: index m (1..3)
 * sums the rows o with domains[o] & m (float64 accumulation); index 0 is all zeros.
 */
function domainGramians(y: Float32Array, f: number, domains: Uint8Array): Float64Array[] {
  // Exact-mask sums first (rows in domain 1 only, 2 only, both), then the unions.
  const exact = [0, 1, 2, 3].map(() => new Float64Array(f * f));
  for (let row = 0; row < domains.length; row++) {
    const mask = domains[row]!;
    if (mask === 0) continue;
    const gram = exact[mask]!;
    const o = row * f;
    for (let a = 0; a < f; a++) {
      const va = y[o + a]!;
      if (va === 0) continue;
      for (let b = 0; b <= a; b++) gram[a * f + b] += va * y[o + b]!;
    }
  }
  const sum = (...parts: Float64Array[]) => parts.reduce((acc, g) => acc.map((v, k) => v + g[k]!), new Float64Array(f * f));
  return [exact[0]!, sum(exact[1]!, exact[3]!), sum(exact[2]!, exact[3]!), sum(exact[1]!, exact[2]!, exact[3]!)];
}

/**
 * Solves A x = b in place for a symmetric positive-definite `[f, f]` A given by its lower
 * triangle (overwritten by its Cholesky factor); b becomes x.
 */
export function choleskySolve(A: Float64Array, b: Float64Array, f: number): void {
  for (let j = 0; j < f; j++) {
    let d = A[j * f + j]!;
    for (let k = 0; k < j; k++) d -= A[j * f + k]! * A[j * f + k]!;
    if (!(d > 0)) throw new GraftError('BAD_INPUT', `ALS normal equations are not positive definite (pivot ${d} at ${j}); use alsRegularization > 0`);
    const l = Math.sqrt(d);
    A[j * f + j] = l;
    for (let i = j + 1; i < f; i++) {
      let s = A[i * f + j]!;
      for (let k = 0; k < j; k++) s -= A[i * f + k]! * A[j * f + k]!;
      A[i * f + j] = s / l;
    }
  }
  for (let i = 0; i < f; i++) {
    let s = b[i]!;
    for (let k = 0; k < i; k++) s -= A[i * f + k]! * b[k]!;
    b[i] = s / A[i * f + i]!;
  }
  for (let i = f - 1; i >= 0; i--) {
    let s = b[i]!;
    for (let k = i + 1; k < f; k++) s -= A[k * f + i]! * b[k]!;
    b[i] = s / A[i * f + i]!;
  }
}

/**
 * The implicit-ALS objective in O(pairs·f + (users + items)·f²): Σ s² over the user x item
 * pairs sharing a domain (each a zero of confidence 1, through the item Gramians:
 * Σ_u x_uᵀ G(u's domains) x_u) plus, per observed pair, (1 + c)(1 - s)² - s², plus
 * λ(‖X‖² + ‖Y‖²).
 */
export function implicitObjective(users: EmbeddingTable, items: EmbeddingTable, byUser: ConfidenceRows, itemDomains: Uint8Array, reg: number): number {
  const f = users.dim;
  const x = users.weights;
  const y = items.weights;
  const grams = domainGramians(y, f, itemDomains);
  let total = 0;
  for (let u = 0; u < byUser.domains.length; u++) {
    const mask = byUser.domains[u]!;
    if (mask === 0) continue;
    const g = grams[mask]!;
    const o = u * f;
    // xᵀGx from the lower triangle: diagonal once, off-diagonal twice.
    for (let a = 0; a < f; a++) {
      const xa = x[o + a]!;
      total += g[a * f + a]! * xa * xa;
      for (let b = 0; b < a; b++) total += 2 * g[a * f + b]! * xa * x[o + b]!;
    }
  }
  for (let u = 0; u + 1 < byUser.offsets.length; u++) {
    for (let k = byUser.offsets[u]!; k < byUser.offsets[u + 1]!; k++) {
      const i = byUser.cols[k]!;
      let s = 0;
      for (let a = 0; a < f; a++) s += x[u * f + a]! * y[i * f + a]!;
      total += (1 + byUser.confidence[k]!) * (1 - s) * (1 - s) - s * s;
    }
  }
  let norms = 0;
  for (let k = 0; k < x.length; k++) norms += x[k]! * x[k]!;
  for (let k = 0; k < y.length; k++) norms += y[k]! * y[k]!;
  return total + reg * norms;
}
