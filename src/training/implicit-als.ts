import { GraftError } from '../errors.js';
import type { EmbeddingTable } from '../model/embedding-table.js';
import type { TwoTowerModel } from '../model/two-tower.model.js';
import { alsKernel, type AlsHalf, type AlsKernel, type AlsScratch } from './als-kernel.js';
import { alsSimdModule } from './als-simd.js';
import { AlsThreads, releaseShared, sharedCopy, type AlsHalfArrays } from './als-threads.js';
import { BestEpochTracker } from './best-epoch.js';
import type { EarlyStoppingOptions } from './early-stopping.js';
import type { TrainingData } from './example-mixture.js';
import type { EpochProgress, EpochRecord, StepProgress, TrainResult } from './train.js';

export interface ImplicitAlsOptions {
  /** Sweeps; each solves every trainable item row, then every trainable user row. */
  epochs: number;
  /** Checked between chunks of rows; on abort returns with `aborted: true` (no restore). */
  signal?: AbortSignal;
  /**
   * Threads that solve each half (this one and `threads - 1` workers; default 1): the rows
   * are split between them, the factors are bit-identical for any count.
   */
  threads?: number;
  /**
   * Conjugate-gradient row solves (alsCgSteps > 0) on the WebAssembly SIMD kernel in float32
   * arithmetic when the runtime supports it (default true); false: the float64 JS kernel.
   * Either way the factors are bit-identical for any thread count. (With it, the Gramians and
   * the objective are summed on the kernel in float64, bit-identical to JS.)
   */
  simd?: boolean;
  /** Validation metric after each sweep, higher is better. */
  validate?: (model: TwoTowerModel, epoch: number) => Promise<number> | number;
  earlyStopping?: EarlyStoppingOptions;
  /** After each half-sweep (step 1 = items, step 2 = users); `loss` is the objective per observed pair. */
  onStep?: (progress: StepProgress) => void;
  onEpoch?: (progress: EpochProgress) => Promise<void> | void;
}

/** Threads a fit may use (a bound against typos; the setting's default is the machine's cores). */
export const MAX_THREADS = 256;

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
 * the same record as `train`, with the thread count and the kernel that solved the rows.
 *
 * The rows of a half are solved by `als-kernel.ts` (CG batched over blocks of rows; the CG
 * blocks on a WebAssembly SIMD kernel in float32, `als-simd.wat`, unless `options.simd` is
 * false or the runtime lacks SIMD) on
 * `options.threads` threads sharing the tables (`als-threads.ts`); every row's solve reads only
 * the other side, and the Gramians and the objective are summed over the same fixed chunks of
 * rows on any thread count, so the factors and the loss are bit-identical for any count.
 *
 * @example
 * const model = TwoTowerModel.create({ users, items, layers: [], objective: 'implicit-als', alsAlpha: 40 });
 * const result = await fitImplicitAls(model, { users: eventUsers, items: eventItems }, { epochs: 15, threads: 2 });
 */
export async function fitImplicitAls(model: TwoTowerModel, data: TrainingData, options: ImplicitAlsOptions): Promise<TrainResult> {
  const { config } = model;
  if (!model.objective.alsRows) {
    throw new GraftError('BAD_INPUT', `fitImplicitAls solves the ID rows of models whose objective has them solved by ALS (implicit-als, hybrid), this one has objective "${config.objective}"; fit it with its own objective (objectiveNamed(name).fit)`);
  }
  const { epochs, signal } = options;
  if (!Number.isInteger(epochs) || epochs < 0) throw new GraftError('BAD_INPUT', `epochs = ${epochs}; use an integer >= 0`);
  model.markRowsTrained();
  const tracker = new BestEpochTracker(options.validate, options.earlyStopping);
  const alpha = config.alsAlpha;
  const reg = config.alsRegularization;
  const { byUser, byItem } = confidenceMatrix(data, model.users, model.items, alpha);
  const observed = byUser.cols.length;

  const threads = options.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
    throw new GraftError('BAD_INPUT', `threads = ${threads}; use an integer from 1 to ${MAX_THREADS} (e.g. the machine's cores, os.availableParallelism())`);
  }
  const f = config.dim;
  // Items first: after a graft the user side carries the pretrained knowledge and new item rows are random.
  const tables: [EmbeddingTable, EmbeddingTable, ConfidenceRows, Uint8Array][] = [
    [model.itemTable, model.userTable, byItem, byUser.domains],
    [model.userTable, model.itemTable, byUser, byItem.domains],
  ];
  // More than one thread: the arrays live in shared memory, and so do the tables' weights for
  // the fit (`table.weights` is the shared copy until the fit ends, when the table's own array
  // gets the final values back): the workers and any callback see the same rows, with no copy per sweep.
  const share = threads > 1 ? sharedCopy : <T>(a: T) => a;
  const ownWeights = new Map<EmbeddingTable, Float32Array>();
  if (threads > 1) {
    for (const [table] of tables) {
      ownWeights.set(table, table.weights);
      table.weights = sharedCopy(table.weights);
    }
  }
  const halves: AlsHalfArrays[] = tables.map(([table, other, rows, otherDomains]) => ({
    f,
    cgSteps: config.alsCgSteps,
    reg,
    y: other.weights,
    x: table.weights,
    offsets: share(rows.offsets),
    cols: share(rows.cols),
    confidence: share(rows.confidence),
    domains: share(rows.domains),
    yDomains: share(otherDomains),
    frozen: share(table.frozen),
    steps: rowSteps(table, share),
  }));
  const restoreWeights = () => {
    for (const [table, own] of ownWeights) {
      own.set(table.weights);
      table.weights = own;
    }
  };
  let pool: AlsThreads;
  try {
    pool = AlsThreads.open(halves, threads, { simd: options.simd });
  } catch (error) {
    restoreWeights();
    throw error;
  }
  // Exact (Cholesky) solves always run in JS.
  const alsKernelName = config.alsCgSteps > 0 ? pool.kernelName : 'js';
  const history: EpochRecord[] = [];
  const progress: StepProgress = { epoch: 0, step: 0, steps: 2, loss: 0, examplesPerSecond: 0, lr: 0 };
  let solvingMs = 0;
  let aborted = false;
  let stoppedEarly = false;
  try {
    for (let epoch = 1; epoch <= epochs && !aborted && !stoppedEarly; epoch++) {
      const epochStart = performance.now();
      let epochSolvingMs = 0;
      let loss = NaN;
      // The user half's Gramians (the items') when the item half's objective already summed them.
      let itemGrams = false;
      for (let half = 0; half < 2; half++) {
        const t0 = performance.now();
        if (!(half === 1 && itemGrams)) await pool.gramians(half);
        aborted = !(await pool.solve(half, signal));
        epochSolvingMs += performance.now() - t0;
        if (aborted) break;
        // The objective costs about half of a user half-sweep (BENCHMARKS.md): after the item half only when someone watches the steps.
        if (half === 1 || options.onStep) {
          // It needs the items' Gramians: after the item half, those of the user half to come.
          if (half === 0) {
            await pool.gramians(1);
            itemGrams = true;
          }
          loss = (await pool.objective(1)) / Math.max(1, observed);
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
  } finally {
    await pool.close();
    restoreWeights();
    if (threads > 1) releaseShared(halves.flatMap((h) => [h.x, h.y, h.offsets, h.cols, h.confidence, h.domains, h.yDomains, h.frozen, ...(h.steps ? [h.steps] : [])]));
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
    threads,
    alsKernel: alsKernelName,
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
  const n = counts[users]!;
  const cols = new Int32Array(n);
  const weight = new Float64Array(n);
  const slotUser = new Int32Array(n);
  const fill = counts.slice(0, users);
  for (const { set, scale, domain } of sets) {
    for (let k = 0; k < set.users.length; k++) {
      const at = fill[set.users[k]!]!++;
      cols[at] = set.items[k]!;
      weight[at] = (set.weights?.[k] ?? 1) * scale;
      slotUser[at] = set.users[k]!;
      if (weight[at]! > 0) {
        userDomains[set.users[k]!] |= domain;
        itemDomains[set.items[k]!] |= domain;
      }
    }
  }
  // Per row, the slots by item: counting sorts (by item, then back into the rows), both
  // stable, so a row's duplicates keep their event order (the order a stable sort gives).
  const itemStart = new Int32Array(items + 1);
  for (let k = 0; k < n; k++) itemStart[cols[k]! + 1]++;
  for (let i = 0; i < items; i++) itemStart[i + 1] += itemStart[i]!;
  const byItemOrder = new Int32Array(n);
  for (let k = 0; k < n; k++) byItemOrder[itemStart[cols[k]!]!++] = k;
  const sorted = new Int32Array(n);
  const rowAt = counts.slice(0, users);
  for (let j = 0; j < n; j++) {
    const k = byItemOrder[j]!;
    sorted[rowAt[slotUser[k]!]!++] = k;
  }
  // Per row: sum duplicates, drop pairs whose weight is 0.
  const offsets = new Int32Array(users + 1);
  const outCols = new Int32Array(n);
  const outConfidence = new Float32Array(n);
  let pairs = 0;
  for (let u = 0; u < users; u++) {
    const to = counts[u + 1]!;
    for (let j = counts[u]!; j < to; ) {
      const item = cols[sorted[j]!]!;
      let w = 0;
      for (; j < to && cols[sorted[j]!] === item; j++) w += weight[sorted[j]!]!;
      if (!(w >= 0) || !Number.isFinite(w)) throw new GraftError('BAD_INPUT', `event weight sum ${w} for user row ${u} and item row ${item} is not a finite number >= 0; fix the event weights`);
      if (w === 0) continue;
      outCols[pairs] = item;
      outConfidence[pairs++] = alpha * w;
    }
    offsets[u + 1] = pairs;
  }
  const byUser = { offsets, cols: outCols.slice(0, pairs), confidence: outConfidence.slice(0, pairs), domains: userDomains };
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
function rowSteps(table: EmbeddingTable, share: (a: Float32Array) => Float32Array): Float32Array | null {
  const steps = new Float32Array(table.rows);
  let damped = false;
  for (let r = 0; r < table.rows; r++) {
    steps[r] = Math.min(1, Math.max(0, table.rowLearningRateMultiplier(r)));
    damped ||= steps[r]! < 1;
  }
  return damped ? share(steps) : null;
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
   * The rows' CG runs batched over blocks of rows (`als-kernel.ts`): the same arithmetic per row.
   */
  cgSteps?: number;
  /** See `ImplicitAlsOptions.simd` (default true). */
  simd?: boolean;
}

/**
 * Solves every unfrozen row of `table` against the rows of `other` (see `fitImplicitAls`) on
 * the calling thread; with `steps`, row r moves steps[r] of the way from its value to its solution.
 * Returns false when `signal` aborted it part-way (rows solved so far keep their new value).
 */
export async function solveTableRows(
  table: EmbeddingTable,
  other: EmbeddingTable,
  rows: ConfidenceRows,
  otherDomains: Uint8Array,
  options: SolveOptions,
): Promise<boolean> {
  const f = table.dim;
  if (other.dim !== f) throw new GraftError('BAD_INPUT', `tables have dims ${table.dim} and ${other.dim}; ALS needs equal dims`);
  const half = { f, cgSteps: options.cgSteps ?? 0, reg: options.reg, y: other.weights, x: table.weights, ...rows, yDomains: otherDomains, frozen: table.frozen, steps: options.steps ?? null };
  const threads = AlsThreads.open([half], 1, { simd: options.simd });
  try {
    await threads.gramians(0);
    return await threads.solve(0, options.signal);
  } finally {
    await threads.close();
  }
}

/**
 * The kernel of the one-thread `domainGramians` and `implicitObjective` (the pool's threads run
 * the same code): on the SIMD kernel when it runs here (float64, bit-identical to JS). Its
 * scratch is held weakly (the kernel's memory, as large as the largest table, is reclaimed
 * when idle).
 */
let singleKernel: AlsKernel | undefined;
let singleScratch: WeakRef<{ f: number; scratch: AlsScratch }> | undefined;
function single(f: number): { kernel: AlsKernel; scratch: AlsScratch } {
  singleKernel ??= alsKernel(alsSimdModule());
  let held = singleScratch?.deref();
  if (!held || held.f !== f) {
    held = { f, scratch: singleKernel.createScratch(f, 1) };
    singleScratch = new WeakRef(held);
  }
  singleKernel.newStep(held.scratch);
  return { kernel: singleKernel, scratch: held.scratch };
}

/**
 * Full symmetric Gramians YᵀY over the rows sharing a domain with each domain set, packed
 * `[4, f, f]`: block m (1..3) sums the rows o with domains[o] & m (float64 accumulation);
 * block 0 is all zeros. The rows are summed in fixed chunks of `alsKernel().gramRows` (within
 * one, per exact domain set, four rows at a time in index order) and the chunks' sums added
 * in chunk order: what `AlsThreads.gramians` gives on any number of threads, bit for bit
 * (the quads on the SIMD kernel when it runs here: the same float64 sums in the same order).
 */
export function domainGramians(y: Float32Array, f: number, domains: Uint8Array): Float64Array {
  if (domains.length * f !== y.length) throw new GraftError('BAD_INPUT', `domains has ${domains.length} rows, y has ${y.length / f}; pass one domain mask per row of y`);
  const { kernel, scratch } = single(f);
  const chunks = Math.ceil(domains.length / kernel.gramRows);
  const partials = new Float64Array(chunks * kernel.gramPartialSize(f));
  for (let c = 0; c < chunks; c++) kernel.gramChunk(y, f, domains, c, partials, scratch);
  const packed = new Float64Array(4 * f * f);
  kernel.reduceGrams(partials, chunks, f, packed);
  return packed;
}

/**
 * The implicit-ALS objective in O(pairs·f + (users + items)·f²): Σ s² over the user x item
 * pairs sharing a domain (each a zero of confidence 1, through the item Gramians:
 * Σ_u x_uᵀ G(u's domains) x_u) plus, per observed pair, (1 + c)(1 - s)² - s², plus
 * λ(‖X‖² + ‖Y‖²). `grams`: the items' `domainGramians` when the caller has them. Summed in
 * fixed chunks of rows added in chunk order: what `AlsThreads.objective` gives on any number
 * of threads, bit for bit.
 */
export function implicitObjective(users: EmbeddingTable, items: EmbeddingTable, byUser: ConfidenceRows, itemDomains: Uint8Array, reg: number, grams?: Float64Array): number {
  const f = users.dim;
  const h: AlsHalf = {
    f,
    cgSteps: 0,
    reg,
    y: items.weights,
    x: users.weights,
    ...byUser,
    yDomains: itemDomains,
    frozen: users.frozen,
    steps: null,
    grams: grams ?? domainGramians(items.weights, f, itemDomains),
  };
  const { kernel, scratch } = single(f);
  const chunks = kernel.objectiveChunks(h);
  const partials = new Float64Array(2 * chunks);
  for (let c = 0; c < chunks; c++) kernel.objectiveChunk(h, c, partials, scratch);
  return kernel.reduceObjective(partials, chunks, reg);
}
