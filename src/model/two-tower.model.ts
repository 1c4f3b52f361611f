import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../errors.js';
import { onHostBackend } from './backend.js';
import { DenseOptimizer, type DenseSlotSnapshot } from './dense-optimizer.js';
import { EmbeddingTable, type RowAccumulator, type SharedTableState } from './embedding-table.js';
import { InBatchSoftmaxTask, type SoftmaxTaskState } from './in-batch-softmax.task.js';
import type { BatchLogits, RetrievalTask } from './retrieval-task.js';
import type { Initializer } from './initializer.js';
import type { NamedWeight } from './named-weight.js';
import { createRng, deriveSeed, mixSeed, type ResumableRng } from '../dataset/random.js';
import { inSharedMemory, type AdamBiasCorrection, type SparseOptimizerKind } from './sparse-optimizer.js';
import { validateTokenBags, type TokenBags } from './token-hash.js';
import { towerKernel, type TowerKernel } from './tower-kernel.js';
import { Tower, type HistoryBags, type LayerSettings, type ResidualTop, type TowerName } from './tower.js';
import { modelObjective, type ModelObjective, type ModelScoring } from './objective.js';
import type { TrainingObjective } from './training-objective.js';

/** The share of each tower's residual top kept (output = ID row + share x MLP; 1 = as trained, 0 = the row alone). */
export interface TopShares {
  user: number;
  item: number;
}

/** Shape and training settings of a two-tower model. Optional fields have the defaults shown. */
export interface TwoTowerConfig {
  users: number;
  items: number;
  /** ID (and token) embedding dim (default 64). */
  dim?: number;
  /** MLP widths per tower, bottom to top (default [128, 64]); the output dim is the last. */
  layers?: number[];
  /** Rows of the shared hashed-token table (default 2^14). */
  tokenBuckets?: number;
  /** Softmax temperature on cosine similarities (default 0.05). */
  temperature?: number;
  /** logQ sampling-bias correction (default true; needs item frequencies, which `train` sets from the data). */
  logQ?: boolean;
  seed?: number;
  /** Optimizer for tables (row-sparse) and dense layers (default 'adam'). */
  optimizer?: SparseOptimizerKind;
  /** L2 on touched embedding rows (default 0). */
  l2?: number;
  /**
   * Lazy Adam on the embedding tables bias-corrects with the table's step count ('table',
   * as PyTorch's SparseAdam) or each row's ('row'; default). See `sparse-optimizer.ts`.
   */
  adamBiasCorrection?: AdamBiasCorrection;
  /** Probability of dropping each token of a bag during training (default 0): makes towers lean less on tokens that sparse targets lack. */
  tokenDropout?: number;
  /** Initialiser of embedding rows (default normal, scale 0.05). */
  embeddingInit?: Initializer;
  /**
   * YouTube-DNN-style user history (default false): the user tower input gains the mean of
   * the item-table rows of the user's history (`setUserHistories`), so a user's events
   * count without a trained user row. In training the example's positive item is left out
   * of the pool (no copying the answer); gradients flow into the pooled item rows.
   */
  userHistory?: boolean;
  /** Pool at most the last this many history items per user (default 50). */
  userHistoryLength?: number;
  /**
   * Whether the user's own ID row enters the user tower (default true). false needs
   * `userHistory`: the user tower is then a function of the pooled history alone (Mult-DAE's
   * encoder, YouTube DNN without a user ID), so a user with a few events is not a row to
   * memorise, and a new user needs no trained row.
   */
  userIdInput?: boolean;
  /**
   * Probability of leaving the user's ID row out of a training example (default 0; inverted
   * dropout: a kept row is scaled by 1 / (1 - p)). The tower learns to place a user from the
   * history too, and keeps a trained row for a user it has no history for.
   */
  userIdDropout?: number;
  /**
   * Probability of leaving each history item out of the user's pool during training
   * (default 0): the tower learns from partial histories instead of memorising each full
   * one (with ~2 events per item the item rows overfit in 1-2 epochs otherwise).
   */
  historyDropout?: number;
  /**
   * The item tower also pools the user-table rows of the item's audience (default false): the
   * users with training events on the item (`setItemAudiences`), the last `userHistoryLength`
   * of them, the example's own user left out in training (else the tower copies the answer),
   * each member dropped with `historyDropout`. An item with two events is then placed by who
   * chose it, as an implicit-ALS item row is solved from its users' rows, instead of by an ID
   * row that has seen two gradient steps. Softmax objective only.
   */
  itemAudience?: boolean;
  /**
   * With `itemAudience`: probability of leaving the item's ID row out of a training example
   * (default 0.8; inverted dropout, as `userIdDropout`), so the tower learns to place items
   * from their audience. Without the audience it is not read (0).
   */
  itemIdDropout?: number;
  /**
   * Uniformly sampled item negatives added to the in-batch ones (mixed negative sampling;
   * default 0): the long tail, rarely an in-batch negative, gets pushed down too.
   */
  uniformNegatives?: number;
  /**
   * A learned scalar bias per item row, added to the item's logit (default false): item
   * popularity no longer has to live in the normalised vectors. Trained by the row-sparse
   * optimizer like the ID rows (table `item.bias`, zeros at start), frozen or slowed
   * together with them by transfer strategies. Scores stay inner products: with the bias,
   * `embedItems` rows are `[v, temperature * b]` and `embedUsers` rows `[u, 1]`, so
   * `outputDim` is the tower's width + 1.
   */
  itemBias?: boolean;
  /**
   * Learning-rate multiplier of the item biases (default 30). A bias lives in logit units
   * (a cosine / temperature spans +-1/T) while Adam moves a row by about the learning rate
   * per step, so at 1 a rarely seen item's bias barely leaves 0 (measured on Amazon Cloth:
   * 1 worse than no bias, 30 best of 1 / 30 / 100 for the target-only model).
   */
  itemBiasLearningRate?: number;
  /**
   * softmax: how tower outputs score (default 'cosine'). 'cosine': both outputs L2-normalised,
   * logits cos / temperature. 'inner-product': raw outputs, logits u.v / temperature, so an
   * item's length can carry its popularity (what ALS's rows do). implicit-als and hybrid
   * always score by inner product ('cosine' with them is refused).
   */
  scoring?: ModelScoring;
  /**
   * What the towers are trained for (default 'softmax'). 'softmax': the in-batch sampled
   * softmax on the tower outputs, L2-normalised unless `scoring` is 'inner-product' (`trainStep`, `train`). 'implicit-als': implicit
   * matrix factorisation solved row by row (`fitImplicitAls`): the towers are their ID
   * tables alone (`layers: []`, no tokens, no user history, no item bias) and their outputs
   * are NOT normalised, so scores are raw inner products (a row's norm carries its
   * popularity). With ~2 events per target item, a per-row solve fits rows SGD cannot
   * (BENCHMARKS.md, Amazon Sport -> Cloth). 'hybrid': the ID rows solved by implicit ALS
   * (`alsSweeps`), then an MLP residual above them (tokens and user history enter there; its
   * last width is `dim`) trained by the in-batch softmax with the ID rows frozen; inner products.
   */
  objective?: TrainingObjective;
  /** implicit-als: confidence of an observed pair is 1 + alsAlpha x its event weight (default 40). */
  alsAlpha?: number;
  /** implicit-als: L2 regularisation λ of every solved row (default 0.1). */
  alsRegularization?: number;
  /**
   * implicit-als: conjugate-gradient steps per row and sweep, warm-started from the row
   * (default 3); 0 = exact Cholesky solves. 3 steps: 2.5x faster sweeps than exact at dim 64,
   * within 0.0007 HR@10 of them on Amazon Sport -> Cloth (BENCHMARKS.md, bench/als).
   */
  alsCgSteps?: number;
  /**
   * hybrid: implicit-ALS sweeps that solve the ID rows (layer 0) before the MLP above them
   * trains by gradient steps for `epochs` (default 10).
   */
  alsSweeps?: number;
  /**
   * hybrid: multiplier of the learning rate for the layers above the ALS-solved ID rows
   * (default 0.03). The top is a residual on a solved optimum: at the full rate one softmax
   * epoch overshoots it (Amazon, BENCHMARKS.md "Hybrid towers").
   */
  topLearningRate?: number;
  /**
   * softmax: after the fit's early-stopped epochs, refine the item ID rows alone (default false;
   * the product's default, `DEFAULT_MODEL`, is true): every other weight frozen, the item rows
   * train on for up to `epochs` more epochs against the fixed user tower, early-stopped on the
   * same validation, and are kept only when the carve scores them above the joint fit (else put
   * back; `softmaxObjective`'s `refineItemRows`).
   * The joint fit must stop when the users and popular items start to memorise, before the rows
   * of items with a few events each have left their random start; ALS solves those rows exactly
   * (BENCHMARKS.md "Where the softmax towers lose to implicit ALS"). Needs a validator with early
   * stopping (without one the fit is as before); the objective's fit reads it.
   */
  refineItemRows?: boolean;
  /**
   * softmax: where a fit starts the ID rows of a model still at its initialiser's draw
   * (`rowsAtInitialiser`): 'random' (default; the product's default, `DEFAULT_MODEL`, is
   * 'implicit-als'), or 'implicit-als': solved first by `alsSweeps` sweeps of implicit ALS on the
   * fit's events (`alsAlpha`, `alsRegularization`, `alsCgSteps`), rescaled to the draw's root mean
   * square (`warmStartRows`). The rows of items with a few events each then start where their
   * users put them instead of at random (BENCHMARKS.md "The softmax towers started at implicit
   * ALS's rows"). A model whose weights were loaded or trained (a graft, a clone, a second fit)
   * keeps its rows.
   */
  rowInit?: RowInit;
  /**
   * Weight β >= 0 of a popularity term in the score (default 0: none), every objective,
   * score(u, i) = u·v_i + β·log(1 + n_i) (softmax with cosine scoring: u and v the unit tower
   * outputs), n_i = item i's primary training events of the fit (the target's in a transfer;
   * `setPopularityBias`). Not learned, and never in the training logits: every fit recomputes it
   * from its own events, whatever a strategy freezes. With β > 0 the model has the `item.bias`
   * table holding β·log(1 + n_i) and `outputDim` is the tower's width + 1, exactly as with
   * `itemBias` (`embedUsers` rows `[u, 1]`, `embedItems` rows `[v, bias]`), and it is served by
   * inner product (`scoringOf`); with β = 0 it has no such table. Not with `itemBias` (the same column).
   */
  popularityWeight?: number;
}

/** Where a softmax fit starts fresh ID rows (`TwoTowerConfig.rowInit`). */
export type RowInit = 'random' | 'implicit-als';
export const ROW_INITS: readonly RowInit[] = ['random', 'implicit-als'];

export type ResolvedTwoTowerConfig = Required<Omit<TwoTowerConfig, 'embeddingInit'>> & { embeddingInit: Initializer };

/** One training batch: parallel arrays of length B. */
export interface TrainBatch {
  users: Int32Array;
  items: Int32Array;
  /** Per-example weights (event weights, replay weights); default all 1. */
  weights?: Float32Array;
}

export interface TrainStepOptions {
  /** Clip the global gradient norm (dense gradients + gathered-row gradients) to this. */
  clipNorm?: number;
  /**
   * Data-parallel training (`src/training/tower-threads.ts`): the step's dense gradients are
   * exchanged with the other threads', and the dense layers take every thread's update of the
   * round in thread order (the same on every thread, so the replicas stay identical). With
   * `rows`, the shared tables' rows too, each thread its partition of every thread's rows.
   */
  denseSync?: DenseSync;
}

/** How a thread's dense gradients meet the other threads' (`TrainStepOptions.denseSync`). */
export interface DenseSync {
  /**
   * This thread's dense gradients (undefined: it took no step this round) in; every thread's
   * of the round out, in thread order, each with the learning rate of its step.
   */
  exchange(gradients: Float32Array[] | undefined): DenseUpdate[];
  /**
   * The rows too at the round's barrier (`tower-threads.ts`): each thread publishes its pending
   * rows before `exchange`, then applies every thread's pending rows of its own partition, in
   * thread order, and waits for the others (`done`) before its accumulator is cleared.
   */
  rows?: RowPartition;
}

/** How the threads of a round apply its row updates (`DenseSync.rows`). */
export interface RowPartition {
  /** This thread's partition: rows with row mod parts = part. */
  part: number;
  parts: number;
  /** Per thread, its tables' accumulators (`rowTableShapes` order; undefined where the model has no such table). */
  accumulators: (RowAccumulator | undefined)[][];
  /** Per thread, the learning rate of its step in this round (undefined: it took none); valid once `exchange` returned. */
  learningRates(): (number | undefined)[];
  /** Marks this thread's partition applied and waits until every thread's is. */
  done(): void;
}

/** One step's dense gradients (trainable variables in order) and its learning rate. */
export interface DenseUpdate {
  gradients: Float32Array[];
  learningRate: number;
}

/** The dense layers' weights and optimizer state, both towers (`TwoTowerModel.denseState`). */
export interface DenseState {
  weights: NamedWeight[];
  optimizer: (DenseSlotSnapshot | undefined)[];
}

/**
 * What a worker thread needs to train a model's rows in place (`TwoTowerModel.threadState`):
 * the tables' shared arrays, the towers' bags and layer settings, the dense state, the task's
 * and the dropout generator's positions.
 */
export interface ModelThreadState {
  config: ResolvedTwoTowerConfig;
  tables: { user: SharedTableState; item: SharedTableState; token?: SharedTableState; itemBias?: SharedTableState };
  towers: Record<TowerName, { tokenPath: boolean; tokens?: TokenBags; histories?: HistoryBags; layers: LayerSettings }>;
  dense: DenseState;
  task: SoftmaxTaskState;
  rng: number;
}

/** Gradients of one batch, without applying them (for tests and debugging). */
export interface ModelGradients {
  loss: number;
  /** Summed gradient per touched row, by table name ('user.embedding', 'item.embedding', 'token.embedding'). */
  tables: Record<string, { ids: Int32Array; grads: Float32Array }>;
  /** Dense gradients by weight name (trainable layers only). */
  dense: Record<string, Float32Array>;
  /** The uniformly sampled negatives of the step (with `uniformNegatives`). */
  negatives?: Int32Array;
}

/** Where step time goes (milliseconds summed over `steps`); see `TwoTowerModel.timings`. */
export interface StepTimings {
  steps: number;
  /** Building the batch in JS: logit bias, gathering ID rows, pooling token rows. */
  gatherMs: number;
  /** Leaf tensors, forward + backward in one autodiff pass, gradient readback, clipping norm. */
  forwardBackwardMs: number;
  /** Dense optimizer on the MLP variables. */
  denseUpdateMs: number;
  /** Scattering leaf gradients into the tables and the row-sparse optimizer step. */
  sparseUpdateMs: number;
}

export interface TowerTokens {
  itemTokens?: TokenBags;
  userTokens?: TokenBags;
}

export interface TwoTowerOptions {
  /**
   * What the model is trained for (TFRS's `Retrieval(loss=...)`); default: the in-batch
   * sampled softmax of the config (`InBatchSoftmaxTask.forModel`). Models whose objective
   * takes no gradient steps (implicit ALS) have none.
   */
  task?: RetrievalTask;
  /** Worker threads (`fromThreadState`): the tables over another thread's shared arrays. */
  sharedTables?: ModelThreadState['tables'];
  /** Worker threads: which towers have a token path (else read from the weights or the tokens given). */
  tokenPaths?: Record<TowerName, boolean>;
}

/** One batch's tower inputs, gathered in JS (see `TwoTowerModel.gatherBatch`). */
interface GatheredBatch {
  logits: BatchLogits;
  /** The logit columns' items: the positives, then any sampled negatives. */
  candidates: Int32Array;
  userInput: Float32Array;
  itemInput: Float32Array;
  /** The candidates' item biases (`itemBias`). */
  biasValues?: Float32Array;
}

/** Gradients of one batch read back from TF.js, and the clipping scale to apply them with. */
interface BatchGradients {
  loss: number;
  userGrad?: Float32Array;
  itemGrad?: Float32Array;
  biasGrad?: Float32Array;
  /** Tensors from TF.js autodiff, arrays from the host kernel. */
  dense: (tf.Tensor | Float32Array)[];
  scale: number;
}

/** Rows per forward pass when embedding a whole table (`embedItems`, `embedUsers`). */
export const EMBED_CHUNK = 4096;

/**
 * Two-tower retrieval model: a user tower and an item tower, each
 * [ID embedding | mean-pooled hashed tokens] -> MLP -> L2 norm, trained with an in-batch
 * sampled softmax. Embedding tables are JS `Float32Array`s with row-sparse optimizers
 * (only touched rows change), the MLPs are TF.js variables; one autodiff pass per step
 * gives gradients for both.
 *
 * @example
 * const model = TwoTowerModel.create({ users: 1000, items: 500, seed: 1 }, { itemTokens });
 * const loss = model.trainStep({ users, items }, 0.01);
 * const itemVectors = model.embedItems(); // [items, model.outputDim]
 * model.dispose();
 */
export class TwoTowerModel {
  readonly config: ResolvedTwoTowerConfig;
  /** What the model is trained for: decides its scoring, its layers and whether it takes gradient steps. */
  readonly objective: ModelObjective;
  readonly userTable: EmbeddingTable;
  readonly itemTable: EmbeddingTable;
  /** Hashed-token table shared by both towers (and across domains); undefined for ID-only models. */
  readonly tokenTable: EmbeddingTable | undefined;
  /** Per-item bias `[items, 1]`: learned (config.itemBias) or set from counts (config.popularityWeight > 0); undefined without. */
  readonly itemBiasTable: EmbeddingTable | undefined;
  /** What gradient steps optimise (see `TwoTowerOptions.task`); undefined for objectives that take none. */
  readonly task: RetrievalTask | undefined;
  /** Set to a zeroed `StepTimings` to have each step add its phase times (benchmarks). */
  timings: StepTimings | undefined;
  private readonly towers: Record<TowerName, Tower>;
  /** See `setPopularityTermUsers`. */
  private popularityTermUsers: Uint8Array | undefined;
  private readonly denseOptimizer: DenseOptimizer;
  private readonly rng: ResumableRng;
  private disposed = false;
  /** `rowsAtInitialiser`. */
  private freshRows: boolean;

  private constructor(config: ResolvedTwoTowerConfig, tokens: TowerTokens, options: TwoTowerOptions, weights?: Map<string, NamedWeight>) {
    this.config = config;
    this.objective = modelObjective(config.objective, 'config.objective');
    const { dim, optimizer, l2, seed, embeddingInit } = config;
    const optimizerOptions = { biasCorrection: config.adamBiasCorrection };
    const shared = options.sharedTables;
    const table = (name: 'user' | 'item' | 'token', rows: number) => {
      const sharedTable = shared?.[name];
      if (sharedTable) return EmbeddingTable.fromShared(sharedTable);
      const saved = weights?.get(`${name}.embedding`);
      return new EmbeddingTable({ rows, dim, optimizer, optimizerOptions, l2, init: embeddingInit, seed: deriveSeed(seed, name), weights: saved?.data });
    };
    this.userTable = table('user', config.users);
    this.itemTable = table('item', config.items);
    const savedBias = weights?.get('item.bias');
    this.itemBiasTable = shared?.itemBias
      ? EmbeddingTable.fromShared(shared.itemBias)
      : config.itemBias || config.popularityWeight > 0
      ? new EmbeddingTable({ rows: config.items, dim: 1, optimizer, optimizerOptions, init: { kind: 'zeros', scale: 0 }, seed: deriveSeed(seed, 'item.bias'), weights: savedBias?.data })
      : undefined;
    if (this.itemBiasTable) this.itemBiasTable.learningRateMultiplier = config.itemBiasLearningRate;
    this.popularityTermUsers = termUsersFrom(weights?.get(POPULARITY_TERM_USERS), config.users);
    const historyDim = config.userHistory ? dim : 0;
    const audienceDim = config.itemAudience ? dim : 0;
    const userHasTokens = options.tokenPaths?.user ?? (weights ? towerHasTokens(weights, 'user', dim + historyDim, tokens.userTokens !== undefined) : tokens.userTokens !== undefined);
    const itemHasTokens = options.tokenPaths?.item ?? (weights ? towerHasTokens(weights, 'item', dim + audienceDim, tokens.itemTokens !== undefined) : tokens.itemTokens !== undefined);
    if (this.objective.layers === 'id-rows' && (userHasTokens || itemHasTokens)) {
      throw new GraftError('BAD_INPUT', `token bags were given to a model with objective ${config.objective}, which factorises ID rows only; leave the tokens out or use objective softmax`);
    }
    this.tokenTable = userHasTokens || itemHasTokens ? table('token', config.tokenBuckets) : undefined;
    if (tokens.userTokens) validateTokenBags(tokens.userTokens, config.users, config.tokenBuckets, 'user');
    if (tokens.itemTokens) validateTokenBags(tokens.itemTokens, config.items, config.tokenBuckets, 'item');
    const denseRng = createRng(deriveSeed(seed, 'dense'), { resumable: true });
    const tower = (name: TowerName, idTable: EmbeddingTable, hasTokens: boolean, bags: TokenBags | undefined) =>
      new Tower({
        name,
        idTable,
        tokenTable: hasTokens ? this.tokenTable : undefined,
        tokens: bags,
        // The user tower pools item rows (the user's history), the item tower user rows (its audience).
        historyTable: name === 'user' ? (config.userHistory ? this.itemTable : undefined) : config.itemAudience ? this.userTable : undefined,
        historyLength: config.userHistoryLength,
        idInput: name === 'item' || config.userIdInput,
        layers: config.layers,
        normalize: config.scoring === 'cosine',
        residual: this.objective.residual,
        rng: denseRng,
        dense: weights ? denseWeights(weights, name, config.layers.length) : undefined,
      });
    this.towers = {
      user: tower('user', this.userTable, userHasTokens, tokens.userTokens),
      item: tower('item', this.itemTable, itemHasTokens, tokens.itemTokens),
    };
    this.task = options.task ?? (this.objective.gradientSteps ? InBatchSoftmaxTask.forModel(config) : undefined);
    this.denseOptimizer = new DenseOptimizer(optimizer);
    this.rng = createRng(deriveSeed(seed, 'dropout'), { resumable: true });
    this.freshRows = weights === undefined;
  }

  /** Builds a freshly initialised model (deterministic for `config.seed`). */
  static create(config: TwoTowerConfig, tokens: TowerTokens = {}, options: TwoTowerOptions = {}): TwoTowerModel {
    return new TwoTowerModel(resolveConfig(config), tokens, options);
  }

  /**
   * Rebuilds a model from `exportWeights()` output. Table sizes come from the weights
   * (`config.users` / `config.items` are overridden by them), and a tower has a token path
   * iff its first kernel is [2 * dim, ...].
   */
  static fromWeights(config: TwoTowerConfig, weights: readonly NamedWeight[], tokens: TowerTokens = {}, options: TwoTowerOptions = {}): TwoTowerModel {
    const byName = new Map(weights.map((w) => [w.name, w]));
    const rows = (name: string) => {
      const w = byName.get(name);
      if (!w) throw new GraftError('BAD_INPUT', `weights lack "${name}"; pass the full output of model.exportWeights()`);
      return w.shape[0];
    };
    const resolved = resolveConfig({ ...config, users: rows('user.embedding'), items: rows('item.embedding') });
    const token = byName.get('token.embedding');
    if (token) resolved.tokenBuckets = token.shape[0];
    if (byName.get('user.embedding')!.shape[1] !== resolved.dim) {
      throw new GraftError('BAD_INPUT', `weights have embedding dim ${byName.get('user.embedding')!.shape[1]} but config.dim is ${resolved.dim}; use the config the model was trained with`);
    }
    return new TwoTowerModel(resolved, tokens, options, byName);
  }

  /**
   * Whether the ID rows are still the initialiser's draw: true for a model from `create`; false
   * once weights were loaded (`fromWeights`, `loadWeights`: a graft, a clone) or a fit trained the
   * rows (`markRowsTrained`: the softmax and implicit-ALS fits). A softmax fit with `rowInit:
   * 'implicit-als'` starts only such rows at the ALS solution, so it never overwrites what a
   * transfer grafted or an earlier fit learned.
   */
  get rowsAtInitialiser(): boolean {
    return this.freshRows;
  }

  /** Records that the ID rows were trained (`rowsAtInitialiser` false from now on). */
  markRowsTrained(): void {
    this.freshRows = false;
  }

  /** Width of `embedUsers` / `embedItems` rows: the towers' output, + 1 with `itemBias`. */
  get outputDim(): number {
    return this.towers.user.outputDim + (this.itemBiasTable ? 1 : 0);
  }

  get users(): number {
    return this.userTable.rows;
  }

  get items(): number {
    return this.itemTable.rows;
  }

  tower(name: TowerName): Tower {
    return this.towers[name];
  }

  /** Sets a layer's learning-rate multiplier in both towers, or in one. */
  setLearningRateMultiplier(layer: number, multiplier: number, tower?: TowerName): void {
    for (const t of tower ? [this.towers[tower]] : [this.towers.user, this.towers.item]) t.setLearningRateMultiplier(layer, multiplier);
  }

  /** Sets a layer's trainable flag in both towers, or in one. */
  setTrainable(layer: number, trainable: boolean, tower?: TowerName): void {
    for (const t of tower ? [this.towers[tower]] : [this.towers.user, this.towers.item]) t.setTrainable(layer, trainable);
  }

  /**
   * Scales both towers' residual tops (`Tower.scaleResidual`): output = ID row + factor x MLP;
   * `{ user, item }` scales each tower by its own factor.
   */
  scaleResidualTops(factor: number | TopShares): void {
    const of = typeof factor === 'number' ? { user: factor, item: factor } : factor;
    for (const name of ['user', 'item'] as const) this.towers[name].scaleResidual(of[name]);
  }

  /** Copies of both towers' residual tops as they are now (`Tower.residualTop`), for `restoreResidualTops`. */
  residualTops(): Partial<Record<TowerName, ResidualTop>> {
    const tops: Partial<Record<TowerName, ResidualTop>> = {};
    for (const name of ['user', 'item'] as const) {
      const top = this.towers[name].residualTop();
      if (top) tops[name] = top;
    }
    return tops;
  }

  /** Puts back `residualTops()` copies. */
  restoreResidualTops(tops: Partial<Record<TowerName, ResidualTop>>): void {
    for (const name of ['user', 'item'] as const) {
      const top = tops[name];
      if (top) this.towers[name].restoreResidual(top);
    }
  }

  /** Item counts (or weights) of the training data for the logQ correction. */
  setItemFrequencies(counts: ArrayLike<number>): void {
    this.task?.setItemFrequencies(counts);
  }

  /**
   * One optimisation step on a batch; returns the loss before the update. Synchronous:
   * the only readbacks are the loss and the gathered rows' gradients.
   */
  trainStep(batch: TrainBatch, lr: number, options: TrainStepOptions = {}): number {
    if (!this.objective.gradientSteps) {
      throw new GraftError('BAD_INPUT', `this model has objective ${this.config.objective}: it trains by its objective's fit (per-row solves; fitModel in the workflows), not by gradient steps`);
    }
    return this.step(batch, lr, options.clipNorm, undefined, options.denseSync);
  }

  /**
   * A data-parallel round in which this thread has no batch (the epoch's last steps went to
   * the others): it adds nothing to the mean and takes the same dense update as they do.
   */
  syncDenseWithoutStep(sync: DenseSync): void {
    if (sync.rows) this.publishPendingRows();
    this.applyDenseUpdates(sync.exchange(undefined));
    if (sync.rows) this.applyRowPartition(sync.rows);
  }

  /** Shapes of the row tables (user, item, token, item bias; undefined where absent): what `adoptRowAccumulators` takes. */
  rowTableShapes(): ({ rows: number; dim: number } | undefined)[] {
    return this.rowTables().map((t) => (t ? { rows: t.rows, dim: t.dim } : undefined));
  }

  /** Worker threads: the tables' pending rows in shared accumulators (`EmbeddingTable.adoptAccumulator`), one per `rowTableShapes` entry. */
  adoptRowAccumulators(accumulators: (RowAccumulator | undefined)[]): void {
    this.rowTables().forEach((table, k) => {
      const accumulator = accumulators[k];
      if (table && accumulator) table.adoptAccumulator(accumulator);
    });
  }

  private rowTables(): (EmbeddingTable | undefined)[] {
    return [this.userTable, this.itemTable, this.tokenTable, this.itemBiasTable];
  }

  private publishPendingRows(): void {
    const tables = this.rowTables();
    for (let k = 0; k < tables.length; k++) tables[k]?.publishPending();
  }

  /** The round's rows of this thread's partition from every thread's accumulator, in thread order; then the barrier, then this thread's accumulator cleared. */
  private applyRowPartition(rows: RowPartition): void {
    const tables = this.rowTables();
    const rates = rows.learningRates();
    for (let k = 0; k < tables.length; k++) {
      const table = tables[k];
      if (!table) continue;
      for (let t = 0; t < rows.parts; t++) {
        const rate = rates[t];
        if (rate !== undefined) table.applyPartition(rows.accumulators[t]![k]!, rows.part, rows.parts, rate);
      }
    }
    rows.done();
    for (let k = 0; k < tables.length; k++) tables[k]?.clearAccumulated();
  }

  /** Data-parallel training: dense updates of other steps (`DenseSync`), applied one after another. */
  applyDenseUpdates(updates: DenseUpdate[]): void {
    if (updates.length > 0) tf.tidy(() => this.applyDenseUpdatesOf(this.denseVariables(), updates));
  }

  /** The dense updates of a data-parallel round, one after another (call inside `tf.tidy`). */
  private applyDenseUpdatesOf(dense: { variable: tf.Variable; multiplier: number }[], updates: DenseUpdate[]): void {
    if (dense.length === 0) return;
    const variables = dense.map((d) => d.variable);
    for (const update of updates) {
      this.denseOptimizer.apply(
        variables,
        update.gradients.map((g, i) => tf.tensor(g, variables[i].shape)),
        dense.map((d) => update.learningRate * d.multiplier),
      );
    }
  }

  /** The sizes of the trainable dense variables, in the order their gradients meet in a `DenseSync`. */
  trainableDenseSizes(): number[] {
    return this.denseVariables().map((d) => d.variable.size);
  }

  /** Whether worker threads can train this model (`threadState`): it takes gradient steps with the in-batch softmax task. */
  get trainsInThreads(): boolean {
    return this.objective.gradientSteps && this.task instanceof InBatchSoftmaxTask;
  }

  /**
   * Moves the tables into shared memory (`EmbeddingTable.shareMemory`) and returns what a worker
   * thread needs to train the same rows in place (`fromThreadState`): their updates land in this
   * model's tables; its dense layers come back with `loadDenseState`.
   */
  threadState(): ModelThreadState {
    if (!this.trainsInThreads) {
      throw new GraftError('BAD_INPUT', `only a model trained by gradient steps with the in-batch softmax task trains in worker threads (objective ${this.config.objective}); train it with threads 1`);
    }
    const sharedBags = <T extends { offsets: Int32Array; ids: Int32Array }>(bags: T | undefined) =>
      bags ? { offsets: inSharedMemory(bags.offsets), ids: inSharedMemory(bags.ids) } : undefined;
    const tower = (name: TowerName) => {
      const t = this.towers[name];
      return { tokenPath: t.tokenTable !== undefined, tokens: sharedBags(t.tokens), histories: sharedBags(t.histories), layers: t.layerSettings() };
    };
    return {
      config: this.config,
      tables: {
        user: this.userTable.shareMemory(),
        item: this.itemTable.shareMemory(),
        token: this.tokenTable?.shareMemory(),
        itemBias: this.itemBiasTable?.shareMemory(),
      },
      towers: { user: tower('user'), item: tower('item') },
      dense: this.denseState(),
      task: (this.task as InBatchSoftmaxTask).threadState(),
      rng: this.rng.state(),
    };
  }

  /**
   * Worker thread `thread`'s model over `threadState()` of another thread's: the same tables
   * (shared, updated in place), bags, layer settings, dense weights and optimizer state. Thread 0
   * continues the dropout and negative-sampling streams; the others draw from streams of their own.
   */
  static fromThreadState(state: ModelThreadState, thread: number): TwoTowerModel {
    const weights = new Map(state.dense.weights.map((w) => [w.name, w]));
    const model = new TwoTowerModel(
      state.config,
      { userTokens: state.towers.user.tokens, itemTokens: state.towers.item.tokens },
      {
        task: InBatchSoftmaxTask.fromThreadState(state.task, thread),
        sharedTables: state.tables,
        tokenPaths: { user: state.towers.user.tokenPath, item: state.towers.item.tokenPath },
      },
      weights,
    );
    model.towers.user.setHistories(state.towers.user.histories);
    model.towers.item.setHistories(state.towers.item.histories);
    for (const name of ['user', 'item'] as const) model.towers[name].applyLayerSettings(state.towers[name].layers);
    // After the towers: the shared token table's multiplier is the one it had, not the last tower's.
    const tables: [EmbeddingTable | undefined, SharedTableState | undefined][] = [
      [model.userTable, state.tables.user],
      [model.itemTable, state.tables.item],
      [model.tokenTable, state.tables.token],
      [model.itemBiasTable, state.tables.itemBias],
    ];
    for (const [table, shared] of tables) if (table && shared) table.learningRateMultiplier = shared.learningRateMultiplier;
    model.loadDenseState(state.dense);
    model.rng.restore(thread === 0 ? state.rng : mixSeed(state.rng, thread));
    return model;
  }

  /** The positions of the dropout and negative-sampling streams (`restoreStreams`), e.g. of worker thread 0 after an epoch. */
  streamState(): { dropout: number; negatives: number | undefined } {
    return { dropout: this.rng.state(), negatives: this.task instanceof InBatchSoftmaxTask ? this.task.threadState().rng : undefined };
  }

  restoreStreams(streams: { dropout: number; negatives: number | undefined }): void {
    this.rng.restore(streams.dropout);
    if (streams.negatives !== undefined && this.task instanceof InBatchSoftmaxTask) this.task.restoreSampler(streams.negatives);
  }

  /** The dense layers' weights and optimizer state (both towers, every layer). */
  denseState(): DenseState {
    const weights = this.exportDenseWeights();
    return { weights, optimizer: this.denseOptimizer.exportState(this.allDenseVariables()) };
  }

  /** Sets the dense layers' weights and optimizer state from `denseState()` of a model of the same shape (e.g. a worker thread's). */
  loadDenseState(state: DenseState): void {
    this.loadDenseWeights(state.weights);
    this.denseOptimizer.importState(this.allDenseVariables(), state.optimizer);
  }

  /** Loss and gradients of a batch without changing anything (dropout still applies). */
  gradients(batch: TrainBatch): ModelGradients {
    const out: ModelGradients = { loss: 0, tables: {}, dense: {} };
    out.loss = this.step(batch, 0, undefined, out, undefined);
    return out;
  }

  /** User tower outputs `[n, outputDim]` for `users` (default: all); L2-normalised with cosine scoring (`config.scoring`). */
  embedUsers(users?: Int32Array): Float32Array {
    const ids = users ?? range(this.users);
    const vectors = this.embed(this.towers.user, ids);
    if (!this.itemBiasTable) return vectors;
    const only = this.config.itemBias ? undefined : this.popularityTermUsers;
    return appendColumn(vectors, this.towers.user.outputDim, only ? (i) => only[ids[i]!] ?? 1 : () => 1);
  }

  /**
   * The users the popularity term applies to (`popularityWeight` > 0): `users[u]` 1, their
   * `embedUsers` rows end in 1 (`<[u, 1], [v, b]> = <u, v> + b`); 0, in 0, ranked by the towers
   * alone. Undefined (the default): every user. A transfer applies it to the users with target
   * events only: β was chosen on them, and on users known from the source alone a term chosen for
   * others drowned their transferred taste (test/serving.test.ts). A learned item bias is
   * part of every user's score and is not affected. Saved with the weights (`POPULARITY_TERM_USERS`),
   * so a reloaded model scores as the stored vectors do; a graft from it does not carry it.
   */
  setPopularityTermUsers(users: Uint8Array | undefined): void {
    if (users && users.length !== this.users) throw new GraftError('BAD_INPUT', `popularity term users: ${users.length} flags for a model of ${this.users} users; give one per user row`);
    this.popularityTermUsers = users;
  }

  /** Item tower outputs `[n, outputDim]` for `items` (default: all); L2-normalised with cosine scoring (`config.scoring`). */
  embedItems(items?: Int32Array): Float32Array {
    const ids = items ?? range(this.items);
    const vectors = this.embed(this.towers.item, ids);
    const bias = this.itemBiasTable;
    if (!bias) return vectors;
    // <[u, 1], [v, T b]> = <u, v> + T b: the logit's ranking (u.v / T + b) as an inner product.
    // A popularity bias (popularityWeight) is already in score units: <[u, 1], [v, b]> = <u, v> + b.
    const t = this.config.itemBias ? this.config.temperature : 1;
    return appendColumn(vectors, this.towers.item.outputDim, (i) => t * bias.weights[ids[i]]);
  }

  /** Appends `n` user rows (trainable, freshly initialised); `tokens` are the new users' bags. */
  growUsers(n: number, tokens?: TokenBags): void {
    this.growTower(this.towers.user, n, tokens);
  }

  /** Appends `n` item rows (trainable, freshly initialised); `tokens` are the new items' bags. */
  growItems(n: number, tokens?: TokenBags): void {
    this.growTower(this.towers.item, n, tokens);
    this.itemBiasTable?.grow(n, { kind: 'zeros', scale: 0 });
    this.task?.growItems(n);
  }

  /**
   * Sets each user's history over item rows, in time order (user tower with `userHistory`):
   * user u's items are `ids[offsets[u] .. offsets[u + 1])`; users past the end have none.
   *
   * @example
   * model.setUserHistories(buildUserHistories(train.users, train.items, model.users));
   */
  setUserHistories(histories: HistoryBags): void {
    if (!this.towers.user.historyTable) {
      throw new GraftError('BAD_INPUT', 'the user tower has no history path; create the model with config.userHistory = true to pool user histories');
    }
    this.towers.user.setHistories(checkedBags(histories, { entity: 'user', entities: this.users, member: 'item', members: this.items, fix: 'build histories over item rows' }));
  }

  /**
   * Sets each item's audience over user rows (item tower with `itemAudience`): item i's users
   * are `ids[offsets[i] .. offsets[i + 1])`, in time order (the tower pools the last
   * `userHistoryLength`); items past the end have none.
   *
   * @example
   * model.setItemAudiences(buildHistoryBags(train.items, train.users, model.items));
   */
  setItemAudiences(audiences: HistoryBags): void {
    if (!this.towers.item.historyTable) {
      throw new GraftError('BAD_INPUT', 'the item tower has no audience path; create the model with config.itemAudience = true to pool item audiences');
    }
    this.towers.item.setHistories(checkedBags(audiences, { entity: 'item', entities: this.items, member: 'user', members: this.users, fix: 'build audiences over user rows' }));
  }

  /** The item audiences set by `setItemAudiences` (undefined without). */
  get itemAudiences(): HistoryBags | undefined {
    return this.towers.item.histories;
  }

  /** The user histories set by `setUserHistories` (undefined without). */
  get userHistories(): HistoryBags | undefined {
    return this.towers.user.histories;
  }

  /** Replaces the item token bags (one per item). */
  setItemTokens(tokens: TokenBags): void {
    this.setTokens(this.towers.item, tokens);
  }

  setUserTokens(tokens: TokenBags): void {
    this.setTokens(this.towers.user, tokens);
  }

  /** Every parameter as named Float32Arrays (copies): tables and dense kernels/biases. */
  exportWeights(): NamedWeight[] {
    const out: NamedWeight[] = [];
    const table = (name: string, t: EmbeddingTable) => out.push({ name: `${name}.embedding`, kind: 'table', shape: [t.rows, t.dim], data: t.exportWeights() });
    table('user', this.userTable);
    table('item', this.itemTable);
    if (this.tokenTable) table('token', this.tokenTable);
    if (this.itemBiasTable) out.push({ name: 'item.bias', kind: 'table', shape: [this.itemBiasTable.rows, 1], data: this.itemBiasTable.exportWeights() });
    const only = this.popularityTermUsers;
    // Users grown after the choice take the term (the default).
    if (only) out.push({ name: POPULARITY_TERM_USERS, kind: 'table', shape: [this.users, 1], data: Float32Array.from({ length: this.users }, (_, u) => only[u] ?? 1) });
    out.push(...this.exportDenseWeights());
    return out;
  }

  private exportDenseWeights(): NamedWeight[] {
    const out: NamedWeight[] = [];
    for (const name of ['user', 'item'] as const) {
      const tower = this.towers[name];
      tower.kernels.forEach((kernel, l) => {
        out.push({ name: `${name}.dense.${l}.kernel`, kind: 'dense', shape: [...kernel.shape], data: kernel.dataSync().slice() as Float32Array });
        out.push({ name: `${name}.dense.${l}.bias`, kind: 'dense', shape: [...tower.biases[l].shape], data: tower.biases[l].dataSync().slice() as Float32Array });
      });
    }
    return out;
  }

  /** Every dense variable, user tower first, each layer's kernel then bias (trainable or not). */
  private allDenseVariables(): tf.Variable[] {
    const out: tf.Variable[] = [];
    for (const name of ['user', 'item'] as const) {
      const tower = this.towers[name];
      tower.kernels.forEach((kernel, l) => out.push(kernel, tower.biases[l]));
    }
    return out;
  }

  /** The trainable dense variables with their learning-rate multipliers, user tower first. */
  private denseVariables(): { variable: tf.Variable; multiplier: number }[] {
    return [...this.towers.user.trainableVariables(), ...this.towers.item.trainableVariables()];
  }

  /** Overwrites the parameters in place from `exportWeights()` output of a model of the same shape (optimizer state is kept). */
  loadWeights(weights: readonly NamedWeight[]): void {
    this.freshRows = false;
    const get = weightLookup(weights);
    this.userTable.loadWeights(get('user.embedding', this.userTable.weights.length));
    this.itemTable.loadWeights(get('item.embedding', this.itemTable.weights.length));
    if (this.tokenTable) this.tokenTable.loadWeights(get('token.embedding', this.tokenTable.weights.length));
    if (this.itemBiasTable) this.itemBiasTable.loadWeights(get('item.bias', this.itemBiasTable.weights.length));
    this.popularityTermUsers = termUsersFrom(weights.find((w) => w.name === POPULARITY_TERM_USERS), this.users);
    this.loadDenseWeights(weights, get);
  }

  private loadDenseWeights(weights: readonly NamedWeight[], get = weightLookup(weights)): void {
    for (const name of ['user', 'item'] as const) {
      const tower = this.towers[name];
      tower.kernels.forEach((kernel, l) => {
        const k = get(`${name}.dense.${l}.kernel`, kernel.size);
        const b = get(`${name}.dense.${l}.bias`, tower.biases[l].size);
        tf.tidy(() => {
          kernel.assign(tf.tensor(k, kernel.shape));
          tower.biases[l].assign(tf.tensor(b, tower.biases[l].shape));
        });
      });
    }
  }

  /**
   * An independent copy: same weights, token bags, item frequencies, freeze masks,
   * trainable flags and learning-rate multipliers; fresh optimizer state.
   */
  clone(): TwoTowerModel {
    const copy = TwoTowerModel.fromWeights(
      this.config,
      this.exportWeights(),
      { userTokens: this.towers.user.tokens, itemTokens: this.towers.item.tokens },
      { task: this.task?.clone() },
    );
    copy.towers.user.setHistories(this.towers.user.histories);
    copy.towers.item.setHistories(this.towers.item.histories);
    copy.popularityTermUsers = this.popularityTermUsers;
    for (const name of ['user', 'item'] as const) copy.towers[name].applyLayerSettings(this.towers[name].layerSettings());
    const tables: [EmbeddingTable | undefined, EmbeddingTable | undefined][] = [
      [this.userTable, copy.userTable],
      [this.itemTable, copy.itemTable],
      [this.tokenTable, copy.tokenTable],
      [this.itemBiasTable, copy.itemBiasTable],
    ];
    // After the towers: the shared token table's multiplier is copied exactly, not last-writer-wins.
    for (const [from, to] of tables) {
      if (!from || !to) continue;
      to.frozen.set(from.frozen);
      to.learningRateMultiplier = from.learningRateMultiplier;
    }
    return copy;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.towers.user.dispose();
    this.towers.item.dispose();
    this.denseOptimizer.dispose();
  }

  /** One step: gather the batch in JS, one autodiff pass, then the dense and row-sparse updates (or, with `inspect`, their gradients). */
  private step(batch: TrainBatch, lr: number, clipNorm: number | undefined, inspect: ModelGradients | undefined, sync: DenseSync | undefined): number {
    if (this.disposed) throw new GraftError('BAD_INPUT', 'the model was disposed; create or load a new one');
    const task = this.task;
    if (!task) throw new GraftError('BAD_INPUT', `this model has no retrieval task to take gradient steps with; create it with options.task`);
    if (batch.items.length !== batch.users.length) {
      throw new GraftError('BAD_INPUT', `batch has ${batch.users.length} users but ${batch.items.length} items; pass parallel arrays`);
    }
    const timings = this.timings;
    const t0 = timings ? performance.now() : 0;
    const gathered = this.gatherBatch(task, batch);
    if (inspect && gathered.logits.candidates) inspect.negatives = gathered.candidates.slice(batch.users.length);
    const t1 = timings ? performance.now() : 0;
    let t2 = t1;
    let t3 = t1;
    const dense = this.denseVariables();
    let loss = 0;
    tf.tidy(() => {
      const grads = this.forwardBackward(task, gathered, batch.users.length, dense.map((d) => d.variable), clipNorm);
      loss = grads.loss;
      if (timings) t2 = performance.now();
      if (inspect) {
        grads.dense.forEach((g, i) => (inspect.dense[denseName(dense[i].variable)] = values(g).slice()));
      } else if (sync) {
        // Scaled here as `apply` would (the same float32 products), then exchanged with the other threads'.
        const scale = Math.fround(grads.scale);
        const local = grads.dense.map((g) => {
          const copy = values(g).slice();
          if (scale !== 1) for (let i = 0; i < copy.length; i++) copy[i] *= scale;
          return copy;
        });
        // With the rows at the barrier, they are accumulated and published before it.
        if (sync.rows) {
          this.accumulateRowGradients(batch.users, gathered.candidates, grads);
          this.publishPendingRows();
        }
        this.applyDenseUpdatesOf(dense, sync.exchange(local));
      } else if (grads.dense.length > 0) {
        this.denseOptimizer.apply(
          dense.map((d) => d.variable),
          grads.dense,
          dense.map((d) => lr * d.multiplier),
          grads.scale,
        );
      }
      if (timings) t3 = performance.now();
      if (!sync?.rows) this.accumulateRowGradients(batch.users, gathered.candidates, grads);
    });
    if (sync?.rows) this.applyRowPartition(sync.rows);
    else this.applyRowGradients(lr, inspect);
    if (timings) {
      const t4 = performance.now();
      timings.steps++;
      timings.gatherMs += t1 - t0;
      timings.forwardBackwardMs += t2 - t1;
      timings.denseUpdateMs += t3 - t2;
      timings.sparseUpdateMs += t4 - t3;
    }
    return loss;
  }

  /** The batch's tower inputs: the task's candidates, the gathered ID/token/history rows, the candidates' biases. */
  private gatherBatch(task: RetrievalTask, batch: TrainBatch): GatheredBatch {
    const { users, items } = batch;
    const dropout = this.config.tokenDropout;
    const logits = task.prepare(items, batch.weights);
    const candidates = logits.candidates ?? items;
    // The positive item is left out of the user's pooled history (else the tower copies it).
    const userInput = this.towers.user.fillInput(users, dropout, this.rng, items, this.config.historyDropout, this.config.userIdDropout);
    // The example's user is left out of its positive's audience, as the positive is of the user's history.
    const itemInput = this.config.itemAudience
      ? this.towers.item.fillInput(candidates, dropout, this.rng, users, this.config.historyDropout, this.config.itemIdDropout)
      : this.towers.item.fillInput(candidates, dropout, this.rng);
    let biasValues: Float32Array | undefined;
    // Only a learned bias enters the training logits; a popularity bias is set from counts, never trained.
    if (this.itemBiasTable && this.config.itemBias) {
      biasValues = new Float32Array(candidates.length);
      this.itemBiasTable.gatherInto(candidates, biasValues, 0, 1);
    }
    return { logits, candidates, userInput, itemInput, biasValues };
  }

  /**
   * Forward and backward in one autodiff pass (call inside `tf.tidy`): the loss, the gradients
   * of the gathered rows (leaves of the trainable layer-0 inputs) read back to JS, the dense
   * gradients as tensors, and the clipping scale of the global norm.
   */
  private forwardBackward(task: RetrievalTask, gathered: GatheredBatch, size: number, dense: tf.Variable[], clipNorm: number | undefined): BatchGradients {
    const kernel = task instanceof InBatchSoftmaxTask && onHostBackend() ? towerKernel() : null;
    if (kernel) return this.kernelForwardBackward(kernel, task as InBatchSoftmaxTask, gathered, size, clipNorm);
    const userTower = this.towers.user;
    const itemTower = this.towers.item;
    const userLeaf = userTower.isTrainable(0);
    const itemLeaf = itemTower.isTrainable(0);
    const u = tf.tensor2d(gathered.userInput, [size, userTower.inputDim]);
    const v = tf.tensor2d(gathered.itemInput, [gathered.candidates.length, itemTower.inputDim]);
    const b = gathered.biasValues ? tf.tensor2d(gathered.biasValues, [1, gathered.candidates.length]) : undefined;
    const xs: tf.Tensor[] = [];
    if (userLeaf) xs.push(u);
    if (itemLeaf) xs.push(v);
    if (b) xs.push(b);
    xs.push(...dense);
    const f = () => task.loss(userTower.forward(u), itemTower.forward(v), gathered.logits, b);
    if (xs.length === 0) return { loss: f().dataSync()[0], dense: [], scale: 1 };
    const { value, grads } = tf.valueAndGrads(f)(xs);
    let k = 0;
    const userGrad = userLeaf ? (grads[k++].dataSync() as Float32Array) : undefined;
    const itemGrad = itemLeaf ? (grads[k++].dataSync() as Float32Array) : undefined;
    const biasGrad = b ? (grads[k++].dataSync() as Float32Array) : undefined;
    const denseGrads = grads.slice(k);
    let scale = 1;
    if (clipNorm !== undefined && clipNorm > 0) {
      let squared = sumSquares(userGrad) + sumSquares(itemGrad) + sumSquares(biasGrad);
      if (denseGrads.length > 0) squared += tf.addN(denseGrads.map((g) => tf.sum(tf.square(g)))).dataSync()[0];
      const norm = Math.sqrt(squared);
      if (norm > clipNorm) scale = clipNorm / norm;
    }
    return { loss: value.dataSync()[0], userGrad, itemGrad, biasGrad, dense: denseGrads, scale };
  }

  /**
   * `forwardBackward` on the host kernel (`TowerKernel`): the same loss and gradients without
   * TF.js autodiff, the dense gradients as arrays.
   */
  private kernelForwardBackward(kernel: TowerKernel, task: InBatchSoftmaxTask, gathered: GatheredBatch, size: number, clipNorm: number | undefined): BatchGradients {
    const logits = gathered.logits;
    const result = kernel.step(
      this.towers.user.kernelTower(gathered.userInput, size),
      this.towers.item.kernelTower(gathered.itemInput, gathered.candidates.length),
      { temperature: task.temperature, bias: logits.bias, itemBias: gathered.biasValues, weights: logits.weights },
    );
    let scale = 1;
    if (clipNorm !== undefined && clipNorm > 0) {
      let squared = sumSquares(result.userGrad) + sumSquares(result.itemGrad) + sumSquares(result.biasGrad);
      for (const g of result.dense) squared += sumSquares(g);
      const norm = Math.sqrt(squared);
      if (norm > clipNorm) scale = clipNorm / norm;
    }
    return { ...result, scale };
  }

  /** Scatters the gathered rows' gradients into their tables' accumulators (ID, token and history rows; item biases). */
  private accumulateRowGradients(users: Int32Array, candidates: Int32Array, grads: BatchGradients): void {
    if (grads.userGrad) this.towers.user.accumulateGradients(users, grads.userGrad, grads.scale);
    if (grads.itemGrad) this.towers.item.accumulateGradients(candidates, grads.itemGrad, grads.scale);
    if (grads.biasGrad) for (let c = 0; c < candidates.length; c++) this.itemBiasTable!.accumulate(candidates[c], grads.biasGrad, c, grads.scale);
  }

  /**
   * The row-sparse optimizer step of every table (or, with `inspect`, their pending gradients, cleared).
   *
   * An indexed loop on purpose, not `for (const [name, table] of tables)`: for-of and array
   * destructuring compile to an implicit try/finally (to close the iterator). Once TurboFan
   * optimizes this method (about step 400 of the default model) it inlines `applyAccumulated`
   * and `LazyAdam.updateRow` into it, and with the for-of that inlined update sat inside the
   * try-block and ran 4-5x slower: the sparse part of a step went from 9 to 45 ms at scale 25
   * (BENCHMARKS.md, issue 20). Without the try-block the inlined update is as fast as the
   * stand-alone one. `test/sparse-update-inlining.test.ts` checks the inlining in a child process.
   */
  private applyRowGradients(lr: number, inspect: ModelGradients | undefined): void {
    const tables: [string, EmbeddingTable | undefined][] = [
      ['user.embedding', this.userTable],
      ['item.embedding', this.itemTable],
      ['token.embedding', this.tokenTable],
      ['item.bias', this.itemBiasTable],
    ];
    for (let t = 0; t < tables.length; t++) {
      const name = tables[t][0];
      const table = tables[t][1];
      if (!table) continue;
      if (inspect) {
        inspect.tables[name] = table.pendingGradients();
        table.clearAccumulated();
      } else {
        table.applyAccumulated(lr);
      }
    }
  }

  private embed(tower: Tower, ids: Int32Array): Float32Array {
    const dim = tower.outputDim;
    const out = new Float32Array(ids.length * dim);
    for (let start = 0; start < ids.length; start += EMBED_CHUNK) {
      const chunk = ids.subarray(start, Math.min(ids.length, start + EMBED_CHUNK));
      const input = tower.fillInput(chunk, 0);
      // Copied inside the scope, which returns nothing: tf.tidy walks whatever it returns, key by
      // key, looking for tensors, and a returned Float32Array of chunk x dim values took seconds
      // per pass over a catalogue (BENCHMARKS.md "Tower outputs copied out inside tf.tidy").
      tf.tidy(() => {
        out.set(tower.forward(tf.tensor2d(input, [chunk.length, tower.inputDim])).dataSync(), start * dim);
      });
    }
    return out;
  }

  private growTower(tower: Tower, n: number, tokens: TokenBags | undefined): void {
    const before = tower.idTable.rows;
    tower.idTable.grow(n);
    if (tower.tokenTable) {
      const old = tower.tokens ?? { offsets: new Int32Array(before + 1), ids: new Int32Array(0) };
      const extra = tokens ?? { offsets: new Int32Array(n + 1), ids: new Int32Array(0) };
      validateTokenBags(extra, n, this.config.tokenBuckets, tower.name);
      const offsets = new Int32Array(before + n + 1);
      offsets.set(old.offsets.subarray(0, before + 1));
      const base = old.offsets[before];
      for (let e = 1; e <= n; e++) offsets[before + e] = base + extra.offsets[e];
      const ids = new Int32Array(base + extra.ids.length);
      ids.set(old.ids.subarray(0, base));
      ids.set(extra.ids, base);
      tower.setTokens({ offsets, ids });
    } else if (tokens && tokens.ids.length > 0) {
      throw new GraftError('BAD_INPUT', `the ${tower.name} tower was built without tokens, so new ${tower.name}s cannot bring tokens; build the model with ${tower.name}Tokens`);
    }
  }

  private setTokens(tower: Tower, tokens: TokenBags): void {
    if (!tower.tokenTable) {
      throw new GraftError('BAD_INPUT', `the ${tower.name} tower has no token path; create the model with ${tower.name}Tokens to use tokens`);
    }
    validateTokenBags(tokens, tower.idTable.rows, this.config.tokenBuckets, tower.name);
    tower.setTokens(tokens);
  }
}

/** Fills in defaults and checks ranges; throws BAD_INPUT naming the bad field. */
export function resolveConfig(config: TwoTowerConfig): ResolvedTwoTowerConfig {
  const resolved: ResolvedTwoTowerConfig = {
    users: config.users,
    items: config.items,
    dim: config.dim ?? 64,
    layers: config.layers ?? [128, 64],
    tokenBuckets: config.tokenBuckets ?? 1 << 14,
    temperature: config.temperature ?? 0.05,
    logQ: config.logQ ?? true,
    seed: config.seed ?? 1,
    optimizer: config.optimizer ?? 'adam',
    l2: config.l2 ?? 0,
    adamBiasCorrection: config.adamBiasCorrection ?? 'row',
    tokenDropout: config.tokenDropout ?? 0,
    embeddingInit: config.embeddingInit ?? { kind: 'normal', scale: 0.05 },
    userHistory: config.userHistory ?? false,
    userHistoryLength: config.userHistoryLength ?? 50,
    userIdInput: config.userIdInput ?? true,
    userIdDropout: config.userIdDropout ?? 0,
    historyDropout: config.historyDropout ?? 0,
    itemAudience: config.itemAudience ?? false,
    // Read only with the audience (without it the item tower would lose its only input): 0 otherwise.
    itemIdDropout: config.itemAudience ? (config.itemIdDropout ?? 0.8) : 0,
    uniformNegatives: config.uniformNegatives ?? 0,
    itemBias: config.itemBias ?? false,
    itemBiasLearningRate: config.itemBiasLearningRate ?? 30,
    objective: config.objective ?? 'softmax',
    scoring: config.scoring ?? modelObjective(config.objective ?? 'softmax', 'config.objective').scoring,
    alsAlpha: config.alsAlpha ?? 40,
    alsRegularization: config.alsRegularization ?? 0.1,
    alsCgSteps: config.alsCgSteps ?? 3,
    alsSweeps: config.alsSweeps ?? 10,
    topLearningRate: config.topLearningRate ?? 0.03,
    refineItemRows: config.refineItemRows ?? false,
    rowInit: config.rowInit ?? 'random',
    popularityWeight: config.popularityWeight ?? 0,
  };
  const positiveInt = (name: string, value: number, min: number) => {
    if (!Number.isInteger(value) || value < min) throw new GraftError('BAD_INPUT', `config.${name} = ${value}; it must be an integer >= ${min}`);
  };
  positiveInt('users', resolved.users, 0);
  positiveInt('items', resolved.items, 0);
  positiveInt('dim', resolved.dim, 1);
  positiveInt('tokenBuckets', resolved.tokenBuckets, 1);
  resolved.layers.forEach((w, i) => positiveInt(`layers[${i}]`, w, 1));
  positiveInt('userHistoryLength', resolved.userHistoryLength, 1);
  if (!resolved.userIdInput && !resolved.userHistory && modelObjective(resolved.objective).layers === 'towers') {
    throw new GraftError('BAD_INPUT', 'config.userIdInput = false needs config.userHistory = true: without its ID row the user tower pools its history');
  }
  positiveInt('uniformNegatives', resolved.uniformNegatives, 0);
  if (!(resolved.itemBiasLearningRate >= 0) || !Number.isFinite(resolved.itemBiasLearningRate)) {
    throw new GraftError('BAD_INPUT', `config.itemBiasLearningRate = ${resolved.itemBiasLearningRate}; it must be a finite number >= 0 (e.g. 30)`);
  }
  if (!(resolved.topLearningRate > 0) || !Number.isFinite(resolved.topLearningRate)) {
    throw new GraftError('BAD_INPUT', `config.topLearningRate = ${resolved.topLearningRate}; it must be a finite number > 0 (e.g. 0.03)`);
  }
  if (!(resolved.userIdDropout >= 0 && resolved.userIdDropout < 1)) {
    throw new GraftError('BAD_INPUT', `config.userIdDropout = ${resolved.userIdDropout}; it must be in [0, 1) (to leave the ID row out altogether: userIdInput false)`);
  }
  if (!(resolved.itemIdDropout >= 0 && resolved.itemIdDropout < 1)) {
    throw new GraftError('BAD_INPUT', `config.itemIdDropout = ${resolved.itemIdDropout}; it must be in [0, 1)`);
  }
  if (!(resolved.historyDropout >= 0 && resolved.historyDropout < 1)) {
    throw new GraftError('BAD_INPUT', `config.historyDropout = ${resolved.historyDropout}; it must be in [0, 1)`);
  }
  if (!(resolved.tokenDropout >= 0 && resolved.tokenDropout < 1)) {
    throw new GraftError('BAD_INPUT', `config.tokenDropout = ${resolved.tokenDropout}; it must be in [0, 1)`);
  }
  if (!(resolved.l2 >= 0)) throw new GraftError('BAD_INPUT', `config.l2 = ${resolved.l2}; it must be >= 0`);
  if (!ROW_INITS.includes(resolved.rowInit)) {
    throw new GraftError('BAD_INPUT', `config.rowInit = ${JSON.stringify(resolved.rowInit)} is unknown; use ${ROW_INITS.join(' or ')}`);
  }
  const objective = modelObjective(resolved.objective, 'config.objective');
  if (!objective.scorings.includes(resolved.scoring)) {
    const known = resolved.scoring === 'cosine' || resolved.scoring === 'inner-product';
    throw new GraftError(
      'BAD_INPUT',
      known
        ? `config.scoring = ${resolved.scoring} with objective ${resolved.objective}, which scores by ${objective.scorings.join(' or ')}; leave scoring out`
        : `config.scoring = ${JSON.stringify(resolved.scoring)} is unknown; use ${objective.scorings.join(' or ')}`,
    );
  }
  objective.check(resolved);
  return resolved;
}

/** `get(name, size)`: the named weight's values, or BAD_INPUT when it is missing or not `size` long. */
function weightLookup(weights: readonly NamedWeight[]): (name: string, size: number) => Float32Array {
  const byName = new Map(weights.map((w) => [w.name, w]));
  return (name, size) => {
    const w = byName.get(name);
    if (!w || w.data.length !== size) {
      throw new GraftError('BAD_INPUT', `weight "${name}" is ${w ? `${w.data.length} values` : 'missing'}, expected ${size}; load weights exported from a model of the same shape`);
    }
    return w.data;
  };
}

/** History or audience bags checked against the tables they index: BAD_INPUT naming what is wrong otherwise. */
function checkedBags(bags: HistoryBags, what: { entity: string; entities: number; member: string; members: number; fix: string }): HistoryBags {
  const { offsets, ids } = bags;
  const { entity, entities, member, members, fix } = what;
  const kind = entity === 'user' ? 'user history' : 'item audience';
  if (offsets.length < 1 || offsets.length > entities + 1 || offsets[0] !== 0 || offsets[offsets.length - 1] !== ids.length) {
    throw new GraftError('BAD_INPUT', `${kind} offsets have length ${offsets.length} (last ${offsets[offsets.length - 1]}) for ${entities} ${entity}s and ${ids.length} ids; pass at most ${entity}s + 1 offsets from 0 to ids.length`);
  }
  for (let e = 1; e < offsets.length; e++) {
    if (offsets[e] < offsets[e - 1]) throw new GraftError('BAD_INPUT', `${kind} offsets decrease at ${entity} ${e - 1}; offsets must be non-decreasing`);
  }
  for (let i = 0; i < ids.length; i++) {
    if (!(ids[i] >= 0 && ids[i] < members)) {
      throw new GraftError('BAD_INPUT', `${kind} ${member} row ${ids[i]} is outside the ${member} table (0..${members - 1}); ${fix}`);
    }
  }
  return bags;
}

/** `baseWidth`: the tower's input width without tokens (ID dim, plus the history or audience dim if any). */
function towerHasTokens(weights: Map<string, NamedWeight>, tower: TowerName, baseWidth: number, given: boolean): boolean {
  const kernel = weights.get(`${tower}.dense.0.kernel`);
  // Without dense layers the input width is not recorded: go by whether tokens were passed.
  if (!kernel) return given && weights.has('token.embedding');
  return kernel.shape[0] > baseWidth;
}

function denseWeights(weights: Map<string, NamedWeight>, tower: TowerName, layers: number): { kernels: Float32Array[]; biases: Float32Array[] } {
  const kernels: Float32Array[] = [];
  const biases: Float32Array[] = [];
  for (let l = 0; l < layers; l++) {
    const kernel = weights.get(`${tower}.dense.${l}.kernel`);
    const bias = weights.get(`${tower}.dense.${l}.bias`);
    if (!kernel || !bias) {
      throw new GraftError('BAD_INPUT', `weights lack ${tower}.dense.${l}; the config has ${layers} layers per tower, use the config the model was trained with`);
    }
    kernels.push(kernel.data);
    biases.push(bias.data);
  }
  return { kernels, biases };
}

/** 'user.dense.0.kernel.17' (unique TF.js variable name) -> 'user.dense.0.kernel'. */
function denseName(variable: tf.Variable): string {
  return variable.name.replace(/\.\d+$/, '');
}

/** A dense gradient's values (a tensor read back, or the host kernel's array). */
function values(gradient: tf.Tensor | Float32Array): Float32Array {
  return gradient instanceof Float32Array ? gradient : (gradient.dataSync() as Float32Array);
}

function sumSquares(values: Float32Array | undefined): number {
  if (!values) return 0;
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i] * values[i];
  return s;
}

/** `[n, width]` rows -> `[n, width + 1]` rows with `last(i)` appended to row i. */
/** The weight that carries `setPopularityTermUsers` (one 0/1 flag per user row), exported only when set. */
export const POPULARITY_TERM_USERS = 'user.popularity-term';

function termUsersFrom(saved: NamedWeight | undefined, users: number): Uint8Array | undefined {
  if (!saved) return undefined;
  if (saved.data.length !== users) throw new GraftError('BAD_INPUT', `weight "${POPULARITY_TERM_USERS}" has ${saved.data.length} rows for a model of ${users} users; pass the full output of model.exportWeights()`);
  return Uint8Array.from(saved.data, (v) => (v > 0 ? 1 : 0));
}

function appendColumn(vectors: Float32Array, width: number, last: (i: number) => number): Float32Array {
  const n = vectors.length / width;
  const out = new Float32Array(n * (width + 1));
  for (let i = 0; i < n; i++) {
    out.set(vectors.subarray(i * width, (i + 1) * width), i * (width + 1));
    out[i * (width + 1) + width] = last(i);
  }
  return out;
}

/** Row indexes 0..n-1 (the rows to embed). */
export function range(n: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  return out;
}
