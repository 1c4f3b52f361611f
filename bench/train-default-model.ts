/**
 * `bench/train --model default`: the model `graft train` builds by default (declared
 * settings' defaults: tags through the shared token table, history pooling in the user tower,
 * temperature, logQ, clipping, the warm-up + cosine schedule of one epoch), trained on the
 * synthetic source of `graft seed --synthetic --scale S` as `graft train --split none` would
 * (see `default-model-data.ts`), timed the way bench/train times the ID-only engine.
 * An epoch's time is extrapolated from the timed steps (steps per epoch x median ms/step),
 * not run. The `train` row times the model's steps warmup + steps + 61 onwards. Until issue
 * 20's fix the sparse update got ~3x slower after ~400 steps (V8 inlining; BENCHMARKS.md), so
 * that row, not the bare steps', was the steady state of an epoch; `--blocks` shows a longer run.
 */
import { buildHistoryBags } from '../src/model/history-bags.js';
import { createRng } from '../src/dataset/random.js';
import type { AdamBiasCorrection } from '../src/model/sparse-optimizer.js';
import { TwoTowerModel, type StepTimings } from '../src/model/two-tower.model.js';
import { ExampleMixture } from '../src/training/example-mixture.js';
import { learningRateAt } from '../src/training/learning-rate-schedule.js';
import { train } from '../src/training/train.js';
import { DEFAULT_MODEL, DEFAULT_TRAINING, modelConfig, towerTokensFor } from '../src/workflows/model-settings.js';
import { defaultModelData, exportDefaultModelRun, type DefaultModelData } from './default-model-data.js';

export interface DefaultModelOptions {
  scale: number;
  /** Timed steps after the warm-up (median of `rounds` rounds). */
  steps: number;
  warmup: number;
  rounds: number;
  /** Lazy Adam's bias correction on the tables (default: the model's, 'row'). */
  biasCorrection?: AdamBiasCorrection;
  /**
   * Write the run (data, initial weights, batches, rates, losses) here for the PyTorch replica.
   * The replica has no dropout (its masks could not follow Graft's generator), so an exported
   * run trains with the user-ID and history dropout at 0.
   */
  exportDir?: string;
  /** Train without the user-ID and history dropout (the defaults before 2026-12-05): the step's work as it was. */
  noDropouts?: boolean;
  /** Reuse data generated before (several runs in one process). */
  data?: DefaultModelData;
  /** The item tower also pools each item's audience (`--item-audience`: the user rows of its training users). */
  itemAudience?: boolean;
}

export interface DefaultModelResult {
  data: DefaultModelData;
  batchSize: number;
  stepsPerEpoch: number;
  msPerStep: number;
  roundMs: number[];
  /** Process CPU time per step (user + system), median of the rounds: steadier than wall time on a shared machine. */
  cpuMsPerStep: number;
  /** The same model continued through `train` (the loop `graft train` runs) for `steps` steps after `warmup`, aborted there. */
  loop: { msPerStep: number; cpuMsPerStep: number };
  examplesPerSecond: number;
  /** Extrapolated: steps per epoch x median ms per step. */
  epochMinutes: number;
  timings: StepTimings;
  /** The user-ID and history dropout the model trained with. */
  dropouts: { userId: number; history: number };
  /** Loss of every step taken (warm-up included), from the first. */
  losses: Float64Array;
  inputDims: { user: number; item: number };
  historyLength: number;
}

function cpuMs(usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1000;
}

/**
 * Continues `model` through the library's `train` loop (a fresh shuffle, the logQ counts,
 * the schedule, clipping, the per-step yield to the event loop and progress callback) and
 * times `steps` steps after `warmup`, then aborts: the loop's own cost next to the bare steps.
 */
async function timeTrainLoop(model: TwoTowerModel, data: DefaultModelData, seed: number, warmup: number, steps: number): Promise<{ msPerStep: number; cpuMsPerStep: number }> {
  const controller = new AbortController();
  let start = 0;
  let cpu = process.cpuUsage();
  let wall = 0;
  let used = 0;
  await train(model, data.train, {
    ...defaultLoopOptions(seed, controller.signal),
    onStep: (p) => {
      if (p.step === warmup) {
        start = performance.now();
        cpu = process.cpuUsage();
      } else if (p.step === warmup + steps) {
        wall = performance.now() - start;
        used = cpuMs(process.cpuUsage(cpu));
        controller.abort();
      }
    },
  });
  return { msPerStep: wall / steps, cpuMsPerStep: used / steps };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Builds and times the default model; see the file comment. */
export async function benchDefaultModel(options: DefaultModelOptions): Promise<DefaultModelResult> {
  const settings = {
    ...DEFAULT_MODEL,
    adamBiasCorrection: options.biasCorrection ?? DEFAULT_MODEL.adamBiasCorrection,
    ...(options.noDropouts || options.exportDir ? { userIdDropout: 0, historyDropout: 0 } : {}),
    ...(options.itemAudience ? { itemAudience: true } : {}),
  };
  const data = options.data ?? defaultModelData(options.scale, settings.tokenBuckets);
  const config = modelConfig(settings, data.users, data.items);
  const model = TwoTowerModel.create(config, towerTokensFor(config, data.itemTokens));
  const batchSize = DEFAULT_TRAINING.batchSize;
  try {
    model.setUserHistories(data.histories);
    if (options.itemAudience) model.setItemAudiences(buildHistoryBags(data.train.items, data.train.users, data.items));
    // As `train` with `fitModel`'s seed: the shuffles are seeded with the model seed.
    const mixture = new ExampleMixture(data.train, batchSize, createRng(settings.seed, { resumable: true }));
    const itemCounts = mixture.itemCounts(model.items);
    model.setItemFrequencies(itemCounts);
    mixture.shuffle();
    const stepsPerEpoch = mixture.stepsPerEpoch;
    const initialWeights = options.exportDir ? model.exportWeights() : [];
    const perRound = Math.max(1, Math.round(options.steps / options.rounds));
    const total = options.warmup + perRound * options.rounds;
    if (total > stepsPerEpoch) throw new Error(`${total} steps do not fit in one epoch of ${stepsPerEpoch}; lower --steps`);
    const losses = new Float64Array(total);
    const rates = new Float64Array(total);
    const batchUsers = new Int32Array(options.exportDir ? total * batchSize : 0);
    const batchItems = new Int32Array(options.exportDir ? total * batchSize : 0);
    const stepOptions = { clipNorm: DEFAULT_TRAINING.clipNorm };
    // The loop's own work per step, as in `train`: fill the batch, the schedule's rate, the step.
    const step = (s: number) => {
      const batch = mixture.batch(s);
      const lr = learningRateAt(DEFAULT_TRAINING.learningRate, s, stepsPerEpoch, DEFAULT_TRAINING.schedule);
      if (options.exportDir) {
        batchUsers.set(batch.users, s * batchSize);
        batchItems.set(batch.items, s * batchSize);
      }
      rates[s] = lr;
      losses[s] = model.trainStep(batch, lr, stepOptions);
    };
    let s = 0;
    for (; s < options.warmup; s++) step(s);
    model.timings = { steps: 0, gatherMs: 0, forwardBackwardMs: 0, denseUpdateMs: 0, sparseUpdateMs: 0 };
    const roundMs: number[] = [];
    const roundCpuMs: number[] = [];
    for (let r = 0; r < options.rounds; r++) {
      const start = performance.now();
      const cpu = process.cpuUsage();
      for (let k = 0; k < perRound; k++, s++) step(s);
      roundMs.push((performance.now() - start) / perRound);
      roundCpuMs.push(cpuMs(process.cpuUsage(cpu)) / perRound);
    }
    const msPerStep = median(roundMs);
    const timings = model.timings;
    model.timings = undefined;
    const loop = await timeTrainLoop(model, data, settings.seed, options.warmup, perRound * options.rounds);
    if (options.exportDir) {
      exportDefaultModelRun(options.exportDir, {
        data,
        config: model.config,
        clipNorm: DEFAULT_TRAINING.clipNorm!,
        itemCounts,
        initialWeights,
        batchUsers,
        batchItems,
        learningRates: rates,
        batchSize,
        stepsPerEpoch,
        losses,
      });
    }
    return {
      data,
      batchSize,
      stepsPerEpoch,
      msPerStep,
      roundMs,
      examplesPerSecond: (batchSize * 1000) / msPerStep,
      epochMinutes: (stepsPerEpoch * msPerStep) / 60_000,
      cpuMsPerStep: median(roundCpuMs),
      loop,
      timings,
      losses,
      inputDims: { user: model.tower('user').inputDim, item: model.tower('item').inputDim },
      historyLength: model.config.userHistoryLength,
      dropouts: { userId: model.config.userIdDropout, history: model.config.historyDropout },
    };
  } finally {
    model.dispose();
  }
}

export interface BlockTiming {
  /** First and last step of the block (1-based, steps of the `train` loop). */
  from: number;
  to: number;
  cpuMsPerStep: number;
  wallMsPerStep: number;
  /** Sparse scatter + lazy Adam per step (`TwoTowerModel.timings`). */
  sparseMsPerStep: number;
  /** Loss of the block's last step. */
  loss: number;
}

export interface BlocksResult {
  data: DefaultModelData;
  stepsPerEpoch: number;
  blocks: BlockTiming[];
  /** FNV-1a over the bytes of every step's loss (float64): equal runs give equal digests. */
  lossDigest: string;
}

/**
 * Trains the default model through the library's `train` loop (as `graft train` does: the
 * shuffle, the logQ counts, the schedule, clipping, the yield per step) for `steps` steps and
 * reports CPU, wall and sparse-update time per block of `blockSize` steps, so a slowdown after
 * some hundreds of steps (V8 re-optimising the sparse update; BENCHMARKS.md) shows, or its absence.
 */
export async function benchDefaultModelBlocks(options: { scale: number; steps: number; blockSize: number; biasCorrection?: AdamBiasCorrection }): Promise<BlocksResult> {
  const settings = { ...DEFAULT_MODEL, adamBiasCorrection: options.biasCorrection ?? DEFAULT_MODEL.adamBiasCorrection };
  const data = defaultModelData(options.scale, settings.tokenBuckets);
  const config = modelConfig(settings, data.users, data.items);
  const model = TwoTowerModel.create(config, towerTokensFor(config, data.itemTokens));
  const controller = new AbortController();
  const blocks: BlockTiming[] = [];
  const losses = new Float64Array(options.steps);
  let stepsPerEpoch = 0;
  try {
    model.setUserHistories(data.histories);
    const fresh = (): StepTimings => ({ steps: 0, gatherMs: 0, forwardBackwardMs: 0, denseUpdateMs: 0, sparseUpdateMs: 0 });
    model.timings = fresh();
    let start = performance.now();
    let cpu = process.cpuUsage();
    await train(model, data.train, {
      ...defaultLoopOptions(settings.seed, controller.signal),
      onStep: (p) => {
        stepsPerEpoch = p.steps;
        losses[p.step - 1] = p.loss;
        if (p.step % options.blockSize === 0 || p.step === options.steps) {
          const n = p.step - (blocks.at(-1)?.to ?? 0);
          const timings = model.timings!;
          blocks.push({
            from: p.step - n + 1,
            to: p.step,
            cpuMsPerStep: cpuMs(process.cpuUsage(cpu)) / n,
            wallMsPerStep: (performance.now() - start) / n,
            sparseMsPerStep: timings.sparseUpdateMs / timings.steps,
            loss: p.loss,
          });
          model.timings = fresh();
          start = performance.now();
          cpu = process.cpuUsage();
        }
        if (p.step === options.steps) controller.abort();
      },
    });
  } finally {
    model.timings = undefined;
    model.dispose();
  }
  let hash = 0x811c9dc5;
  for (const byte of new Uint8Array(losses.buffer)) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return { data, stepsPerEpoch, blocks, lossDigest: hash.toString(16).padStart(8, '0') };
}

/** One epoch of the library's `train` loop with `graft train`'s default budget (the loop both runs of this bench use). */
function defaultLoopOptions(seed: number, signal: AbortSignal) {
  return {
    epochs: 1,
    batchSize: DEFAULT_TRAINING.batchSize,
    learningRate: DEFAULT_TRAINING.learningRate,
    schedule: DEFAULT_TRAINING.schedule,
    clipNorm: DEFAULT_TRAINING.clipNorm,
    seed,
    signal,
  };
}
