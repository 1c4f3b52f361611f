import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../errors.js';
import type { EmbeddingTable } from './embedding-table.js';
import { fillInitial, glorotScale } from './initializer.js';
import type { ResumableRng } from '../dataset/random.js';
import type { TokenBags } from './token-hash.js';
import { hostValues } from './host-values.js';
import type { KernelTower } from './tower-kernel.js';
import { dense, l2Normalize } from './tower-ops.js';

export type TowerName = 'user' | 'item';

/** A copy of a residual top's last layer (`Tower.residualTop`). */
export interface ResidualTop {
  kernel: Float32Array;
  bias: Float32Array;
}

export interface TowerOptions {
  name: TowerName;
  /** ID embedding table (layer 0). */
  idTable: EmbeddingTable;
  /** Shared token table (layer 0); present iff this tower has a token path. */
  tokenTable?: EmbeddingTable;
  /** Hashed tokens per entity (CSR); entities without tokens get a zero token vector. */
  tokens?: TokenBags;
  /**
   * The table whose rows the tower mean-pools over each entity's history: the item table for a
   * user tower with `userHistory` (the user's items), the user table for an item tower with
   * `itemAudience` (the item's users); present iff the tower has a history path.
   */
  historyTable?: EmbeddingTable;
  /** Pool at most the last this many history entries of an entity (default 50). */
  historyLength?: number;
  /**
   * Whether the ID row enters the tower (default true). false: the ID part of the input is
   * zeros and the ID table gets no gradient, so the tower is a function of its tokens and
   * history alone (a user tower that pools its history, as Mult-DAE's encoder).
   */
  idInput?: boolean;
  /** Dense layer widths, bottom to top; ReLU between, the last one linear. */
  layers: readonly number[];
  /** L2-normalise the output (default true; false for implicit-ALS towers, scored by raw inner products). */
  normalize?: boolean;
  /**
   * Output = the ID row + the MLP's output (default false; the hybrid objective's towers): the
   * last layer must be `idTable.dim` wide and starts at zero, so the tower starts as its ID row.
   */
  residual?: boolean;
  /** Draws the initial dense weights. */
  rng: ResumableRng;
  /** Initial dense weights (kernel [in, out] and bias [out] per layer); else Glorot-uniform / zeros. */
  dense?: { kernels: Float32Array[]; biases: Float32Array[] };
}

/**
 * Histories over rows of the history table in CSR form, in time order: entity e's rows are
 * `ids[offsets[e] .. offsets[e + 1])` (the last `historyLength` of them are pooled).
 */
/** Per layer (0 = the embedding tables): trainable or frozen, and its learning-rate multiplier. */
export interface LayerSettings {
  trainable: boolean[];
  rates: number[];
}

export interface HistoryBags {
  /** `[entities + 1]` */
  readonly offsets: Int32Array;
  readonly ids: Int32Array;
}

/**
 * One tower: [ID embedding | mean-pooled token embedding | mean-pooled history rows] -> MLP
 * -> L2 normalisation (token and history parts only when the tower has those paths).
 * Layers are numbered from the bottom: 0 = the embedding tables, 1..L = dense layers.
 *
 * The embedding part runs in JS (`fillInput` gathers rows into one `[B, inputDim]` buffer
 * that becomes a leaf tensor; `accumulateGradients` scatters that leaf's gradient back),
 * the MLP in TF.js (`forward`).
 */
export class Tower {
  readonly name: TowerName;
  readonly idTable: EmbeddingTable;
  readonly tokenTable: EmbeddingTable | undefined;
  /** The table pooled over each entity's history (the item table for users, the user table for items' audiences). */
  readonly historyTable: EmbeddingTable | undefined;
  readonly historyLength: number;
  /** Width of the concatenated embedding input: dim (+ token dim) (+ history dim). */
  readonly inputDim: number;
  readonly outputDim: number;
  readonly kernels: tf.Variable[];
  readonly biases: tf.Variable[];
  private tokenBags: TokenBags | undefined;
  private readonly trainable: boolean[];
  private readonly rateMultipliers: number[];
  private readonly normalize: boolean;
  private readonly residual: boolean;
  /** Whether the ID row enters the input (`TowerOptions.idInput`). */
  readonly idInput: boolean;
  // Scratch for the current batch, reused across steps.
  private input = new Float32Array(0);
  private bagOffsets = new Int32Array(1);
  private bagIds = new Int32Array(0);
  private historyBags: HistoryBags | undefined;
  private historyOffsets = new Int32Array(1);
  private historyIds = new Int32Array(0);
  /** Per example of the last `fillInput`: the ID row's factor (0 dropped, 1 / (1 - p) kept, 1 without ID dropout). */
  private idScale = new Float32Array(0);
  constructor(options: TowerOptions) {
    this.name = options.name;
    this.idTable = options.idTable;
    this.tokenTable = options.tokenTable;
    this.tokenBags = options.tokens;
    this.historyTable = options.historyTable;
    this.historyLength = options.historyLength ?? 50;
    this.normalize = options.normalize ?? true;
    this.idInput = options.idInput ?? true;
    if (!this.idInput && !this.historyTable && !this.tokenTable) {
      throw new GraftError('BAD_INPUT', `${this.name} tower without its ID row has no input left; give it a history or token path, or keep the ID row`);
    }
    if (!this.idInput && options.residual) {
      throw new GraftError('BAD_INPUT', `${this.name} tower: a residual top adds the ID row, so it needs the ID row as input`);
    }
    this.inputDim = this.idTable.dim + (this.tokenTable?.dim ?? 0) + (this.historyTable?.dim ?? 0);
    const widths = [this.inputDim, ...options.layers];
    this.outputDim = widths[widths.length - 1];
    this.residual = options.residual ?? false;
    if (this.residual && (options.layers.length === 0 || this.outputDim !== this.idTable.dim)) {
      throw new GraftError('BAD_INPUT', `${this.name} tower: a residual top needs MLP layers ending at the ID dim ${this.idTable.dim}, got [${options.layers.join(', ')}]; end the layers at ${this.idTable.dim}`);
    }
    this.kernels = [];
    this.biases = [];
    for (let l = 0; l < options.layers.length; l++) {
      const [fanIn, fanOut] = [widths[l], widths[l + 1]];
      let kernel = options.dense?.kernels[l];
      let bias = options.dense?.biases[l];
      if (kernel && kernel.length !== fanIn * fanOut) {
        throw new GraftError('BAD_INPUT', `${this.name} tower layer ${l + 1} kernel has ${kernel.length} values, expected [${fanIn}, ${fanOut}]; weights do not match the config`);
      }
      if (!kernel) {
        kernel = new Float32Array(fanIn * fanOut);
        // A residual top's last layer starts at zero: the tower's first output is its ID row.
        if (!(this.residual && l === options.layers.length - 1)) fillInitial(kernel, { kind: 'uniform', scale: glorotScale(fanIn, fanOut) }, options.rng);
      }
      bias ??= new Float32Array(fanOut);
      this.kernels.push(tf.variable(tf.tensor2d(kernel, [fanIn, fanOut]), true, `${this.name}.dense.${l}.kernel.${uniqueSuffix()}`));
      this.biases.push(tf.variable(tf.tensor1d(bias), true, `${this.name}.dense.${l}.bias.${uniqueSuffix()}`));
    }
    this.trainable = new Array<boolean>(options.layers.length + 1).fill(true);
    this.rateMultipliers = new Array<number>(options.layers.length + 1).fill(1);
  }

  /** Number of layers including layer 0 (the embedding tables). */
  get layerCount(): number {
    return this.kernels.length + 1;
  }

  get tokens(): TokenBags | undefined {
    return this.tokenBags;
  }

  get histories(): HistoryBags | undefined {
    return this.historyBags;
  }

  /** Replaces the histories (one per entity of the ID table; entities beyond them have none). */
  setHistories(histories: HistoryBags | undefined): void {
    this.historyBags = histories;
  }

  /** Replaces the token bags (one bag per entity of the ID table). */
  setTokens(tokens: TokenBags | undefined): void {
    this.tokenBags = tokens;
  }

  /**
   * Scales a residual top's output by `factor` (its last layer's kernel and bias, the layer
   * that starts at zero): the tower then outputs row + factor x MLP(row, tokens, history), so
   * 0 gives the ID row back and 1 leaves it as trained. A no-op on a tower without a residual top.
   */
  scaleResidual(factor: number): void {
    if (!(factor >= 0) || !Number.isFinite(factor)) throw new GraftError('BAD_INPUT', `residual scale ${factor}; it must be a finite number >= 0 (1 = as trained)`);
    if (!this.residual || factor === 1) return;
    const last = this.kernels.length - 1;
    tf.tidy(() => {
      this.kernels[last].assign(tf.mul(this.kernels[last], factor));
      this.biases[last].assign(tf.mul(this.biases[last], factor));
    });
  }

  /**
   * The residual top's last layer (kernel and bias) as it is now, for `restoreResidual` to put
   * back (after a scale of 0, say); undefined on a tower without a residual top.
   */
  residualTop(): ResidualTop | undefined {
    if (!this.residual) return undefined;
    const last = this.kernels.length - 1;
    return { kernel: Float32Array.from(this.kernels[last].dataSync()), bias: Float32Array.from(this.biases[last].dataSync()) };
  }

  /** Puts back a `residualTop()` copy of this tower's last layer. */
  restoreResidual(top: ResidualTop): void {
    if (!this.residual) return;
    const last = this.kernels.length - 1;
    if (top.kernel.length !== this.kernels[last].size || top.bias.length !== this.biases[last].size) {
      throw new GraftError('BAD_INPUT', `${this.name} tower: a residual top of ${top.kernel.length} + ${top.bias.length} weights does not fit this tower's last layer (${this.kernels[last].size} + ${this.biases[last].size})`);
    }
    tf.tidy(() => {
      this.kernels[last].assign(tf.tensor(top.kernel, this.kernels[last].shape));
      this.biases[last].assign(tf.tensor(top.bias, this.biases[last].shape));
    });
  }

  /** Freezes (false) or unfreezes (true) layer `layer` (0 = embedding tables, 1..L = dense). */
  setTrainable(layer: number, trainable: boolean): void {
    this.checkLayer(layer);
    this.trainable[layer] = trainable;
  }

  isTrainable(layer: number): boolean {
    this.checkLayer(layer);
    return this.trainable[layer];
  }

  /** Freezes layers 0..n-1 and unfreezes the rest (PARTIAL transfer with freezeLayers = n). */
  freezeLowest(n: number): void {
    for (let l = 0; l < this.layerCount; l++) this.trainable[l] = l >= n;
  }

  /**
   * Learning-rate multiplier of a layer (FULL fine-tuning: pretrained layers lower). For
   * layer 0 it is set on the tower's ID table and on the token table, which both towers
   * share: the value set last wins there.
   */
  setLearningRateMultiplier(layer: number, multiplier: number): void {
    this.checkLayer(layer);
    if (!(multiplier >= 0) || !Number.isFinite(multiplier)) {
      throw new GraftError('BAD_INPUT', `learning-rate multiplier ${multiplier} must be a finite number >= 0`);
    }
    this.rateMultipliers[layer] = multiplier;
    if (layer === 0) {
      this.idTable.learningRateMultiplier = multiplier;
      if (this.tokenTable) this.tokenTable.learningRateMultiplier = multiplier;
    }
  }

  learningRateMultiplier(layer: number): number {
    this.checkLayer(layer);
    return this.rateMultipliers[layer];
  }

  /** Each layer's trainable flag and learning-rate multiplier (layer 0 first), for a copy of the tower (`applyLayerSettings`). */
  layerSettings(): LayerSettings {
    return { trainable: [...this.trainable], rates: [...this.rateMultipliers] };
  }

  /** Sets every layer's trainable flag and multiplier from `layerSettings()` of a tower with as many layers. */
  applyLayerSettings(settings: LayerSettings): void {
    for (let l = 0; l < this.layerCount; l++) {
      this.setTrainable(l, settings.trainable[l]);
      this.setLearningRateMultiplier(l, settings.rates[l]);
    }
  }

  /**
   * Gathers the embedding input of `ids` into a reused buffer `[B, inputDim]`:
   * ID row, then the mean of the entity's token rows (tokens dropped with probability
   * `tokenDropout`; an empty bag gives zeros), then the mean of the history rows (the last
   * `historyLength` entries, without any occurrence of `exclude[i]`, the example's positive:
   * pooling it would let the tower copy the answer; each entry dropped with probability
   * `historyDropout`, drawn after the token dropout). With `idDropout` (and a generator: training
   * only), each example's ID row is left out with that probability (zeros, no gradient) or
   * scaled by 1 / (1 - p), drawn before the rest. Remembers the bags and the ID rows' factors
   * for `accumulateGradients` (`pooledHistory` lists the bags).
   */
  fillInput(ids: Int32Array, tokenDropout = 0, rng?: ResumableRng, exclude?: Int32Array, historyDropout = 0, idDropout = 0): Float32Array {
    const batch = ids.length;
    const width = this.inputDim;
    if (this.input.length < batch * width) this.input = new Float32Array(batch * width);
    const input = this.input.subarray(0, batch * width);
    if (this.idScale.length < batch) this.idScale = new Float32Array(batch);
    if (this.idInput) this.idTable.gatherInto(ids, input, 0, width);
    else zeroColumns(input, ids.length, width, 0, this.idTable.dim);
    this.idScale.fill(this.idInput ? 1 : 0, 0, batch);
    if (this.idInput && idDropout > 0 && rng !== undefined) {
      // Inverted dropout of the whole ID row: the tower learns to place an entity from its other inputs.
      const kept = 1 / (1 - idDropout);
      const dim = this.idTable.dim;
      for (let i = 0; i < batch; i++) {
        const factor = rng.next() < idDropout ? 0 : kept;
        this.idScale[i] = factor;
        for (let k = 0; k < dim; k++) input[i * width + k] *= factor;
      }
    }
    this.fillTokens(ids, input, tokenDropout, rng);
    this.fillHistory(ids, input, exclude, historyDropout, rng);
    return input;
  }

  /** The history-table rows pooled for example `i` of the last `fillInput` (empty without a history path). */
  pooledHistory(i: number): Int32Array {
    if (!this.historyTable) return new Int32Array(0);
    return this.historyIds.slice(this.historyOffsets[i], this.historyOffsets[i + 1]);
  }

  private fillHistory(ids: Int32Array, input: Float32Array, exclude: Int32Array | undefined, dropout: number, rng: ResumableRng | undefined): void {
    const table = this.historyTable;
    if (!table) return;
    const batch = ids.length;
    const width = this.inputDim;
    const dim = table.dim;
    const at = width - dim;
    const bags = this.historyBags;
    const weights = table.weights;
    if (this.historyOffsets.length < batch + 1) this.historyOffsets = new Int32Array(batch + 1);
    const offsets = this.historyOffsets;
    let n = 0;
    for (let i = 0; i < batch; i++) {
      const dst = i * width + at;
      for (let k = 0; k < dim; k++) input[dst + k] = 0;
      offsets[i] = n;
      const entity = ids[i];
      if (!bags || entity + 1 >= bags.offsets.length) continue; // entity without a history
      const to = bags.offsets[entity + 1];
      const from = Math.max(bags.offsets[entity], to - this.historyLength);
      if (this.historyIds.length < n + (to - from)) {
        const grown = new Int32Array(Math.max(2 * this.historyIds.length, n + (to - from), 64));
        grown.set(this.historyIds.subarray(0, n));
        this.historyIds = grown;
      }
      const skip = exclude === undefined ? -1 : exclude[i];
      const start = n;
      for (let t = from; t < to; t++) {
        const row = bags.ids[t];
        if (row === skip) continue;
        if (dropout > 0 && rng !== undefined && rng.next() < dropout) continue;
        if (!(row >= 0 && row < table.rows)) {
          const over = this.name === 'user' ? 'item' : 'user';
          throw new GraftError('BAD_INPUT', `${this.name} ${entity} has history row ${row} outside the ${over} table (0..${table.rows - 1}); build its history over ${over} rows`);
        }
        this.historyIds[n++] = row;
        const src = row * dim;
        for (let k = 0; k < dim; k++) input[dst + k] += weights[src + k];
      }
      const count = n - start;
      if (count > 1) {
        const inv = 1 / count;
        for (let k = 0; k < dim; k++) input[dst + k] *= inv;
      }
    }
    offsets[batch] = n;
  }

  private fillTokens(ids: Int32Array, input: Float32Array, tokenDropout: number, rng: ResumableRng | undefined): void {
    const batch = ids.length;
    const width = this.inputDim;
    const tokenTable = this.tokenTable;
    if (!tokenTable) return;
    const dim = tokenTable.dim;
    const idDim = this.idTable.dim;
    const bags = this.tokenBags;
    const weights = tokenTable.weights;
    if (this.bagOffsets.length < batch + 1) this.bagOffsets = new Int32Array(batch + 1);
    const offsets = this.bagOffsets;
    let n = 0;
    for (let i = 0; i < batch; i++) {
      const dst = i * width + idDim;
      for (let k = 0; k < dim; k++) input[dst + k] = 0;
      offsets[i] = n;
      if (!bags) continue;
      const entity = ids[i];
      if (entity + 1 >= bags.offsets.length) continue; // entity added after the bags were set: no tokens
      const from = bags.offsets[entity];
      const to = bags.offsets[entity + 1];
      if (this.bagIds.length < n + (to - from)) {
        const grown = new Int32Array(Math.max(2 * this.bagIds.length, n + (to - from), 64));
        grown.set(this.bagIds.subarray(0, n));
        this.bagIds = grown;
      }
      const start = n;
      for (let t = from; t < to; t++) {
        if (tokenDropout > 0 && rng !== undefined && rng.next() < tokenDropout) continue;
        const token = bags.ids[t];
        this.bagIds[n++] = token;
        const src = token * dim;
        for (let k = 0; k < dim; k++) input[dst + k] += weights[src + k];
      }
      const count = n - start;
      if (count > 1) {
        const inv = 1 / count;
        for (let k = 0; k < dim; k++) input[dst + k] *= inv;
      }
    }
    offsets[batch] = n;
  }

  /**
   * MLP (plus the ID row with `residual`) + L2 normalisation (unless `normalize` is off) of a
   * `[B, inputDim]` input -> `[B, outputDim]`. Frozen layers take part in the forward pass as
   * constants (autodiff is asked only for trainable ones).
   */
  forward(input: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      let h: tf.Tensor2D = input;
      const last = this.kernels.length - 1;
      for (let l = 0; l <= last; l++) h = dense(h, this.kernels[l] as tf.Tensor2D, this.biases[l] as tf.Tensor1D, l < last);
      if (this.residual) h = tf.add(h, this.inputDim === this.idTable.dim ? input : tf.slice(input, [0, 0], [-1, this.idTable.dim]));
      return this.normalize ? l2Normalize(h) : h;
    });
  }

  /**
   * This tower's dense part for the host kernel (`TowerKernel.step`): the gathered input of
   * `rows` examples, the layers' current weights (read from TF.js), which gradients to return.
   */
  kernelTower(input: Float32Array, rows: number): KernelTower {
    return {
      input,
      rows,
      widths: [this.inputDim, ...this.kernels.map((k) => k.shape[1] as number)],
      kernels: this.kernels.map((k) => hostValues(k)),
      biases: this.biases.map((b) => hostValues(b)),
      residual: this.residual,
      idDim: this.idTable.dim,
      normalize: this.normalize,
      inputGradient: this.trainable[0],
      trainable: this.trainable.slice(1),
    };
  }

  /**
   * Scatters the gradient w.r.t. the last `fillInput` buffer (`[B, inputDim]`, times
   * `scale`) into the tables' pending gradients: the ID part to each entity's row, the token
   * part divided equally over the bag's tokens (the gradient of a mean), the history part
   * likewise over the pooled history rows of the history (item) table.
   */
  accumulateGradients(ids: Int32Array, gradient: Float32Array, scale: number): void {
    const width = this.inputDim;
    const idDim = this.idTable.dim;
    for (let i = 0; i < ids.length; i++) if (this.idScale[i] !== 0) this.idTable.accumulate(ids[i], gradient, i * width, scale * this.idScale[i]);
    const historyTable = this.historyTable;
    if (historyTable) {
      const at = width - historyTable.dim;
      const offsets = this.historyOffsets;
      for (let i = 0; i < ids.length; i++) {
        const from = offsets[i];
        const to = offsets[i + 1];
        if (to === from) continue;
        const share = scale / (to - from);
        for (let t = from; t < to; t++) historyTable.accumulate(this.historyIds[t], gradient, i * width + at, share);
      }
    }
    const tokenTable = this.tokenTable;
    if (!tokenTable) return;
    const offsets = this.bagOffsets;
    for (let i = 0; i < ids.length; i++) {
      const from = offsets[i];
      const to = offsets[i + 1];
      if (to === from) continue;
      const share = scale / (to - from);
      for (let t = from; t < to; t++) tokenTable.accumulate(this.bagIds[t], gradient, i * width + idDim, share);
    }
  }

  /** Trainable dense variables with their layer's learning-rate multiplier. */
  trainableVariables(): { variable: tf.Variable; multiplier: number }[] {
    const out: { variable: tf.Variable; multiplier: number }[] = [];
    for (let l = 0; l < this.kernels.length; l++) {
      if (!this.trainable[l + 1]) continue;
      out.push({ variable: this.kernels[l], multiplier: this.rateMultipliers[l + 1] });
      out.push({ variable: this.biases[l], multiplier: this.rateMultipliers[l + 1] });
    }
    return out;
  }

  dispose(): void {
    for (const v of [...this.kernels, ...this.biases]) v.dispose();
  }

  private checkLayer(layer: number): void {
    if (!Number.isInteger(layer) || layer < 0 || layer >= this.layerCount) {
      throw new GraftError('BAD_INPUT', `${this.name} tower has layers 0..${this.layerCount - 1} (0 = embeddings); got ${layer}`);
    }
  }
}

function zeroColumns(buffer: Float32Array, rows: number, width: number, from: number, count: number): void {
  for (let i = 0; i < rows; i++) buffer.fill(0, i * width + from, i * width + from + count);
}

let counter = 0;
/** TF.js variable names must be unique per process; models are created many times. */
function uniqueSuffix(): string {
  return String(++counter);
}
