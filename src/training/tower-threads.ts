import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { GraftError } from '../errors.js';
import { createRng } from '../dataset/random.js';
import * as tf from '@tensorflow/tfjs';
import type { BackendName } from '../model/backend.js';
import { inSharedMemory } from '../model/sparse-optimizer.js';
import { EmbeddingTable, type RowAccumulator } from '../model/embedding-table.js';
import { TwoTowerModel, type DenseState, type DenseSync, type DenseUpdate, type ModelThreadState, type RowPartition } from '../model/two-tower.model.js';
import { ExampleMixture, type ExampleSet, type TrainingData } from './example-mixture.js';
import { learningRateAt, type LearningRateSchedule } from './learning-rate-schedule.js';

/**
 * Data-parallel training of the towers on worker threads (issue 20 item 4).
 *
 * Every thread holds the same example order (the same seeded mixture) and takes every
 * `threads`-th batch of it: in round r, thread k trains on batch r x threads + k. Every round
 * ends at a barrier, and all of a round's gradients are computed at the same weights (thread
 * k's step is k steps old: synchronous data parallel, the round's steps taken one after another):
 * - **Rows (the embedding tables) are shared** (`SharedArrayBuffer`s: weights, lazy-Adam state,
 *   freeze masks, row multipliers). Each thread sums its step's row gradients in a shared
 *   accumulator; at the barrier every thread applies the pending rows of its own partition
 *   (row mod threads) from every thread's accumulator, in thread order, each with the learning
 *   rate of its step. No row is written by two threads at once, and a row touched by several
 *   steps of the round takes their updates in step order, as on one thread (but from
 *   gradients computed at the round's start). A second barrier ends the row updates before the
 *   next round gathers rows.
 * - **Dense layers are replicated**: each thread has a replica. The threads hand their dense
 *   gradients over through shared memory and every replica takes all of them, one Adam step
 *   per thread in thread order: the replicas stay identical and take as many steps as on one
 *   thread.
 * So a run is deterministic for a seed and a thread count (tested against an emulation on one
 * thread, rows and dense layers bit for bit), and with one thread it is the in-process
 * training's, bit for bit (tested). Two earlier designs: the rows updated lock-free as each
 * thread finished its step (Hogwild, Recht et al. 2011; timing-dependent), and before that the
 * dense updates applied one round late so that no thread waited unless a whole round ahead
 * (stale-synchronous, staleness up to 2 x threads - 1), which trained measurably less per step
 * (the default model at scale 25: final loss 5.59-5.61 on two threads against 5.27 on one; the
 * barrier: 5.31) for about 6% more examples a second (BENCHMARKS.md). The calling thread only
 * coordinates: its event loop stays free (cancellation, progress, a server's requests).
 */

/** `control` slots (Int32). */
/** Set by the caller (cancellation) or a thread (a diverged loss): the threads stop at the same round soon after. */
const ABORT = 0;
/** Set once the threads stopped an epoch early. */
const STOPPED = 1;
const FAILED = 2;
/** Steps completed in the current epoch. */
const DONE = 3;
/** Per thread: the last round of the epoch it has handed its gradients to (-1: none). */
const ARRIVED = 8;
/**
 * Rounds whose gradients and flags are kept at once (round r in slot r mod SLOTS). A thread
 * reads round q in its round q, after handing it in, and hands in q + 1 only after applying
 * q; another thread writes round q + 2 only after it has seen that hand-in of q + 1 (it waits
 * for every thread's round q + 1 in its own), so it cannot overwrite round q while it is read.
 */
const SLOTS = 2;
/** A slot's flags: bit 0, the thread took a step (its gradients are in); bit 1, it had seen ABORT. */
const STEPPED = 1;
const SAW_ABORT = 2;

/** How long a thread waits for another before looking at FAILED again (ms). */
const WAIT_POLL_MS = 200;
/** How often the calling thread reports progress and looks at the signal while the threads train (ms). */
const POLL_MS = 50;

/** Per thread (after ARRIVED's threads and the slots' flags): the last round whose rows of its partition it has applied (-1: none). */
function rowsDone(threads: number): number {
  return ARRIVED + threads + SLOTS * threads;
}

/** Int32 slots of a run's control array. */
function controlSize(threads: number): number {
  return rowsDone(threads) + threads;
}

/** What each worker thread is given for one training run. */
export interface TowerThreadInit {
  state: ModelThreadState;
  data: TrainingData;
  batchSize: number;
  seed: number;
  learningRate: number;
  schedule: LearningRateSchedule | undefined;
  totalSteps: number;
  clipNorm: number | undefined;
  threads: number;
  thread: number;
  /** The dense gradient sizes, in the order of the trainable dense variables. */
  denseSizes: number[];
  control: Int32Array;
  /** `SLOTS x threads x sum(denseSizes)`: each thread's gradients of the rounds in flight. */
  gradients: Float32Array;
  /** Per thread, its tables' pending rows in shared memory (`TwoTowerModel.rowTableShapes` order). */
  rowAccumulators: (RowAccumulator | undefined)[][];
  /** Per step of the epoch: its loss (0 until taken). */
  losses: Float64Array;
  /** [the latest step's loss] */
  latestLoss: Float64Array;
}

/** A thread's end of an epoch. */
interface EpochAnswer {
  type: 'epoch';
  steps: number;
  examples: number;
  /** A hash of the thread's dense replica: every thread's must be the same (checked by the caller). */
  digest: number;
  /** Thread 0: the dense replica after the epoch (every replica is the same), and where its random streams stand. */
  dense?: DenseState;
  streams?: ReturnType<TwoTowerModel['streamState']>;
}

/**
 * One worker thread's side: its model over the shared tables, its copy of the example
 * mixture, and the rounds of an epoch (`epoch`). Runs inside `tower-worker.ts`.
 */
export class TowerThread {
  readonly model: TwoTowerModel;
  private readonly mixture: ExampleMixture;
  private readonly denseTotal: number;
  private globalStep = 0;
  /** The round at which the threads agreed to stop this epoch (-1: none yet). */
  private stopRound = -1;

  constructor(private readonly init: TowerThreadInit) {
    this.model = TwoTowerModel.fromThreadState(init.state, init.thread);
    this.mixture = new ExampleMixture(init.data, init.batchSize, createRng(init.seed, { resumable: true }));
    this.denseTotal = init.denseSizes.reduce((a, b) => a + b, 0);
    this.model.adoptRowAccumulators(init.rowAccumulators[init.thread]!);
    const sizes = this.model.trainableDenseSizes();
    if (sizes.join() !== init.denseSizes.join()) {
      throw new GraftError('INTERNAL', `thread ${init.thread} rebuilt dense layers of sizes [${sizes.join(', ')}], the caller has [${init.denseSizes.join(', ')}]`);
    }
  }

  /** Runs this thread's rounds of the next epoch (the mixture shuffles as on every thread). */
  epoch(globalStep: number, withDense: boolean): EpochAnswer {
    const { init, model, mixture } = this;
    const { threads, thread, control, losses, latestLoss, learningRate, schedule, totalSteps, clipNorm } = init;
    mixture.shuffle();
    this.globalStep = globalStep;
    this.stopRound = -1;
    const steps = mixture.stepsPerEpoch;
    const rounds = Math.ceil(steps / threads);
    let mine = 0;
    let examples = 0;
    for (let r = 0; r < rounds && this.stopRound < 0; r++) {
      const sync = this.sync(r);
      const s = r * threads + thread;
      if (s < steps) {
        const batch = mixture.batch(s);
        const loss = model.trainStep(batch, learningRateAt(learningRate, globalStep + s, totalSteps, schedule), { clipNorm, denseSync: sync });
        losses[s] = loss;
        latestLoss[0] = loss;
        if (!Number.isFinite(loss)) Atomics.store(control, ABORT, 1);
        mine++;
        examples += batch.users.length;
        Atomics.add(control, DONE, 1);
      } else {
        model.syncDenseWithoutStep(sync);
      }
    }
    if (this.stopRound >= 0) Atomics.store(control, STOPPED, 1);
    const dense = model.denseState();
    return {
      type: 'epoch',
      steps: mine,
      examples,
      digest: denseDigest(dense),
      dense: withDense ? dense : undefined,
      streams: withDense ? model.streamState() : undefined,
    };
  }

  dispose(): void {
    this.model.dispose();
  }

  /**
   * Round `round`'s dense sync: this thread's gradients into the round's slot, then the round's
   * updates once every thread has handed its own in (in thread order). The threads agree to
   * stop when a thread had seen ABORT in this round: all of them read the same flags, so all
   * stop after this same round.
   */
  private sync(round: number): DenseSync {
    const { threads, thread, control, gradients } = this.init;
    const total = this.denseTotal;
    return {
      exchange: (local) => {
        const slot = round % SLOTS;
        if (local) {
          let at = (slot * threads + thread) * total;
          for (let v = 0; v < local.length; v++) {
            gradients.set(local[v], at);
            at += local[v].length;
          }
        }
        const flags = (local ? STEPPED : 0) | (Atomics.load(control, ABORT) !== 0 ? SAW_ABORT : 0);
        Atomics.store(control, ARRIVED + threads + slot * threads + thread, flags);
        Atomics.store(control, ARRIVED + thread, round);
        Atomics.notify(control, ARRIVED + thread);
        const updates = this.roundUpdates(round);
        for (let t = 0; t < threads; t++) {
          if ((Atomics.load(control, ARRIVED + threads + slot * threads + t) & SAW_ABORT) !== 0) this.stopRound = round;
        }
        return updates;
      },
      rows: this.rowPartition(round),
    };
  }

  /** Round `round`'s rows: this thread applies its partition of every thread's pending rows, then waits for the others'. */
  private rowPartition(round: number): RowPartition {
    const { threads, thread, control, rowAccumulators, learningRate, totalSteps, schedule } = this.init;
    const slot = round % SLOTS;
    const done = rowsDone(threads);
    return {
      part: thread,
      parts: threads,
      accumulators: rowAccumulators,
      learningRates: () =>
        Array.from({ length: threads }, (_, t) =>
          (Atomics.load(control, ARRIVED + threads + slot * threads + t) & STEPPED) !== 0 ? learningRateAt(learningRate, this.globalStep + round * threads + t, totalSteps, schedule) : undefined,
        ),
      done: () => {
        Atomics.store(control, done + thread, round);
        Atomics.notify(control, done + thread);
        for (let t = 0; t < threads; t++) waitForRound(control, done + t, round);
      },
    };
  }

  /** Waits until every thread has handed in round `round`, and returns its updates (views into the shared slots). */
  private roundUpdates(round: number): DenseUpdate[] {
    const { threads, control, gradients, denseSizes, learningRate, totalSteps, schedule } = this.init;
    for (let t = 0; t < threads; t++) waitForRound(control, ARRIVED + t, round);
    const total = this.denseTotal;
    const slot = round % SLOTS;
    const out: DenseUpdate[] = [];
    for (let t = 0; t < threads; t++) {
      if ((Atomics.load(control, ARRIVED + threads + slot * threads + t) & STEPPED) === 0) continue;
      let at = (slot * threads + t) * total;
      const views = denseSizes.map((size) => {
        const view = gradients.subarray(at, at + size);
        at += size;
        return view;
      });
      out.push({ gradients: views, learningRate: learningRateAt(learningRate, this.globalStep + round * threads + t, totalSteps, schedule) });
    }
    return out;
  }
}

/** FNV-1a over the bits of a dense state's weights and optimizer state. */
export function denseDigest(state: DenseState): number {
  let hash = 0x811c9dc5;
  const add = (values: Float32Array) => {
    const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
    for (let i = 0; i < bits.length; i++) hash = Math.imul(hash ^ bits[i], 0x01000193) >>> 0;
  };
  for (const w of state.weights) add(w.data);
  for (const slot of state.optimizer) {
    if (!slot) continue;
    add(slot.first);
    if (slot.second) add(slot.second);
  }
  return hash;
}

/** Waits until `control[at]` (a thread's last round handed in, or applied) reaches `round`; throws when another thread has failed. */
function waitForRound(control: Int32Array, at: number, round: number): void {
  for (;;) {
    const arrived = Atomics.load(control, at);
    if (arrived >= round) return;
    if (Atomics.load(control, FAILED) !== 0) throw new GraftError('INTERNAL', 'another training thread failed');
    Atomics.wait(control, at, arrived, WAIT_POLL_MS);
  }
}

/** Marks a run failed and wakes the threads waiting for another (they throw). */
export function failRun(control: Int32Array): void {
  Atomics.store(control, FAILED, 1);
  for (let i = ARRIVED; i < control.length; i++) Atomics.notify(control, i);
}

/** What the calling thread learns of an epoch trained on the threads. */
export interface ThreadedEpoch {
  /** Each step's loss (those not taken, after a stop: 0). */
  losses: Float64Array;
  steps: number;
  examples: number;
  /** The epoch stopped early (the signal, or a thread's non-finite loss). */
  stopped: boolean;
}

/** Settings of a threaded run (see `train`). */
export interface TowerThreadsOptions {
  threads: number;
  batchSize: number;
  seed: number;
  learningRate: number;
  schedule?: LearningRateSchedule;
  totalSteps: number;
  clipNorm?: number;
}

/**
 * Batches per thread and epoch below which the default (`defaultTowerThreads`) trains on one
 * thread. The steps of a round are computed from the same weights, so popular rows (the pooled
 * histories' items, in every batch) take several steps from one value, which costs a little
 * quality on short epochs: Amazon Phone (42k events), target alone, HR@10 0.2426 on two threads
 * against 0.2469 on one (the same 8 seeds; paired difference -0.0043, standard error 0.0021;
 * Cloth the same on both). No larger real pair was at hand to find where the cost vanishes;
 * this keeps the default at one thread below about 260k examples an epoch per extra thread,
 * where an epoch takes seconds anyway (BENCHMARKS.md, issue 20).
 */
export const MIN_BATCHES_PER_THREAD = 1024;

/**
 * The threads a softmax fit uses when none are asked for: the machine's cores, as many as
 * the data gives `MIN_BATCHES_PER_THREAD` batches an epoch each (at least one).
 */
export function defaultTowerThreads(data: TrainingData, batchSize: number, cores: number): number {
  const replay = data.replay;
  const replayed = replay ? (replay.fraction === undefined ? replay.users.length : Math.round(replay.fraction * data.users.length)) : 0;
  const batches = (data.users.length + replayed) / batchSize;
  return Math.max(1, Math.min(cores, Math.floor(batches / MIN_BATCHES_PER_THREAD)));
}

/** Idle workers of closed runs (already booted, their backend loaded), for the next run. */
const parked: Worker[] = [];
const MAX_PARKED = 16;

type WorkerAnswer = EpochAnswer | { type: 'ready' } | { type: 'error'; message: string };

/**
 * The calling thread's side of a threaded run: starts (or reuses) `threads` workers on a
 * model, runs epochs on them and brings their dense replica back into the model after each
 * (the tables are shared, so the model always has the rows). Close it when done.
 *
 * @example
 * const run = await TowerThreads.start(model, data, { threads: 2, batchSize: 256, seed: 1, learningRate: 0.003, totalSteps });
 * try { const epoch = await run.epoch(0, signal); } finally { run.close(); }
 */
export class TowerThreads {
  private closed = false;

  private constructor(
    private readonly model: TwoTowerModel,
    private readonly workers: Worker[],
    private readonly control: Int32Array,
    private readonly losses: Float64Array,
    private readonly latestLoss: Float64Array,
  ) {}

  /** Whether `model` can train on worker threads here: the in-batch softmax task, and a backend that computes on one thread (wasm, cpu). */
  static available(model: TwoTowerModel): boolean {
    const backend = tf.getBackend();
    return model.trainsInThreads && (backend === 'wasm' || backend === 'cpu');
  }

  static async start(model: TwoTowerModel, data: TrainingData, options: TowerThreadsOptions): Promise<TowerThreads> {
    const { threads } = options;
    if (!Number.isInteger(threads) || threads < 1) throw new GraftError('BAD_INPUT', `threads = ${threads}; use an integer >= 1`);
    const backend = tf.getBackend() as BackendName;
    const state = model.threadState();
    const shared = shareTrainingData(data);
    const steps = new ExampleMixture(shared, options.batchSize, createRng(options.seed, { resumable: true })).stepsPerEpoch;
    const denseSizes = model.trainableDenseSizes();
    const total = denseSizes.reduce((a, b) => a + b, 0);
    const control = new Int32Array(new SharedArrayBuffer(4 * controlSize(threads)));
    const gradients = new Float32Array(new SharedArrayBuffer(4 * Math.max(1, SLOTS * threads * total)));
    const losses = new Float64Array(new SharedArrayBuffer(8 * Math.max(1, steps)));
    const latestLoss = new Float64Array(new SharedArrayBuffer(8));
    const shapes = model.rowTableShapes();
    const rowAccumulators = Array.from({ length: threads }, () => shapes.map((shape) => shape && EmbeddingTable.sharedAccumulator(shape.rows, shape.dim)));
    const workers: Worker[] = [];
    while (workers.length < threads) workers.push(parked.pop() ?? spawnWorker());
    const run = new TowerThreads(model, workers, control, losses, latestLoss);
    try {
      await Promise.all(
        workers.map((worker, thread) => {
          const init: TowerThreadInit = {
            state,
            data: shared,
            batchSize: options.batchSize,
            seed: options.seed,
            learningRate: options.learningRate,
            schedule: options.schedule,
            totalSteps: options.totalSteps,
            clipNorm: options.clipNorm,
            threads,
            thread,
            denseSizes,
            control,
            gradients,
            rowAccumulators,
            losses,
            latestLoss,
          };
          return ask(worker, { type: 'init', backend, init }, 'ready');
        }),
      );
    } catch (error) {
      run.close(true);
      throw error;
    }
    return run;
  }

  /**
   * Trains one epoch on the threads, starting at global step `globalStep`; with `signal` aborted
   * the threads stop within a round. Calls `onProgress(stepsDone, latestLoss)` while they train.
   * The model's dense layers (and their optimizer state) are the threads' afterwards.
   */
  async epoch(globalStep: number, signal?: AbortSignal, onProgress?: (steps: number, loss: number) => void): Promise<ThreadedEpoch> {
    const { control, losses } = this;
    losses.fill(0);
    Atomics.store(control, DONE, 0);
    Atomics.store(control, STOPPED, 0);
    Atomics.store(control, ABORT, signal?.aborted ? 1 : 0);
    for (let t = 0; t < this.workers.length; t++) {
      Atomics.store(control, ARRIVED + t, -1);
      Atomics.store(control, rowsDone(this.workers.length) + t, -1);
    }
    const timer = setInterval(() => {
      if (signal?.aborted) Atomics.store(control, ABORT, 1);
      onProgress?.(Atomics.load(control, DONE), this.latestLoss[0]);
    }, POLL_MS);
    let answers: EpochAnswer[];
    try {
      answers = await Promise.all(this.workers.map((worker, thread) => ask(worker, { type: 'epoch', globalStep, withDense: thread === 0 }, 'epoch')));
    } catch (error) {
      this.close(true);
      throw error;
    } finally {
      clearInterval(timer);
    }
    // The replicas took the same updates in the same order: a difference is a bug in the hand-over, never noise.
    if (answers.some((a) => a.digest !== answers[0].digest)) {
      this.close(true);
      throw new GraftError('INTERNAL', `the training threads' dense layers diverged (digests ${answers.map((a) => a.digest.toString(16)).join(', ')}); train with threads 1 and report this`);
    }
    const { dense, streams } = answers[0];
    if (dense) this.model.loadDenseState(dense);
    // With one thread the model continues exactly where the thread stopped.
    if (streams) this.model.restoreStreams(streams);
    const steps = answers.reduce((n, a) => n + a.steps, 0);
    onProgress?.(steps, this.latestLoss[0]);
    return { losses: losses.slice(), steps, examples: answers.reduce((n, a) => n + a.examples, 0), stopped: Atomics.load(control, STOPPED) !== 0 };
  }

  /** Releases the workers (parked for the next run; with `failed`, ended). */
  close(failed = false): void {
    if (this.closed) return;
    this.closed = true;
    if (failed) failRun(this.control);
    for (const worker of this.workers) {
      if (failed || parked.length >= MAX_PARKED) {
        void worker.terminate();
      } else {
        worker.postMessage({ type: 'release' });
        parked.push(worker);
      }
    }
  }
}

/** The compiled worker entry: next to this file in the package, `dist/` when this runs from the sources (tests). */
function workerFile(): string {
  const here = fileURLToPath(import.meta.url);
  const file = here.endsWith('.ts') ? fileURLToPath(new URL('../../dist/src/training/tower-worker.js', import.meta.url)) : fileURLToPath(new URL('./tower-worker.js', import.meta.url));
  if (!existsSync(file)) {
    throw new GraftError('UNAVAILABLE', `the towers' worker thread needs the compiled package (${file} is missing); run \`npm run build\`, or train with threads 1`);
  }
  return file;
}

function spawnWorker(): Worker {
  const worker = new Worker(workerFile());
  worker.unref();
  worker.on('exit', () => {
    const at = parked.indexOf(worker);
    if (at !== -1) parked.splice(at, 1);
  });
  return worker;
}

/** Sends `message` and waits for the worker's answer of type `expect` (its error or exit rejects). */
function ask<T extends WorkerAnswer['type']>(worker: Worker, message: unknown, expect: T): Promise<Extract<WorkerAnswer, { type: T }>> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      worker.unref();
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    const onMessage = (answer: WorkerAnswer) => {
      cleanup();
      if (answer.type === 'error') reject(new GraftError('INTERNAL', `a training thread failed: ${answer.message}`));
      else if (answer.type !== expect) reject(new GraftError('INTERNAL', `a training thread answered ${answer.type}, expected ${expect}`));
      else resolve(answer as Extract<WorkerAnswer, { type: T }>);
    };
    const onError = (error: Error) => {
      cleanup();
      reject(new GraftError('INTERNAL', `a training thread failed: ${error.message}`, { cause: error }));
    };
    const onExit = (code: number) => {
      cleanup();
      reject(new GraftError('INTERNAL', `a training thread exited with code ${code}; check memory, or train with threads 1`));
    };
    worker.on('message', onMessage);
    worker.once('error', onError);
    worker.once('exit', onExit);
    worker.ref();
    worker.postMessage(message);
  });
}

/** The examples in shared memory, so every thread reads the same arrays instead of a copy. */
function shareTrainingData(data: TrainingData): TrainingData {
  const set = <T extends ExampleSet>(s: T): T => ({ ...s, users: inSharedMemory(s.users), items: inSharedMemory(s.items), weights: s.weights ? inSharedMemory(s.weights) : undefined });
  return { ...set(data), replay: data.replay ? set(data.replay) : undefined };
}
