/**
 * The towers trained on worker threads against one thread (issue 20 item 4), through the
 * library's `train` loop, in the same process and window:
 *
 *   npm run build && node dist/bench/train.js --threads 2 [--model id|default] [--scale 25] [--steps 600] [--rounds 2]
 *
 * `--model id`: `bench/train`'s ID-only shapes (50k users x 20k items, dim 64, MLP [128, 64],
 * batch 256, logQ), examples drawn as its batches are (item popularity ~ r^3). `--model default`:
 * the model `graft train` builds (tags, history pooling, the dropouts) on the synthetic source
 * of `graft seed --synthetic --scale S`. Each run: a fresh model, a warm-up epoch of 60 batches
 * (the workers boot, the JIT warms), then a timed epoch of `--steps` batches on other examples;
 * one thread and N threads alternate, `--rounds` times. Reports examples/s of the timed epoch
 * (`TrainResult.examplesPerSecond`: steps only), the process's CPU ms per step (every thread)
 * and the final training loss of each.
 */
import { cpus, loadavg } from 'node:os';
import { createRng } from '../src/dataset/random.js';
import { TwoTowerModel, type TwoTowerConfig } from '../src/model/two-tower.model.js';
import { DEFAULT_MODEL, DEFAULT_TRAINING, modelConfig, towerTokensFor } from '../src/workflows/model-settings.js';
import { train } from '../src/training/train.js';
import type { ExampleSet } from '../src/training/example-mixture.js';
import { defaultModelData } from './default-model-data.js';

export interface ThreadsBenchOptions {
  model: 'id' | 'default';
  threads: number;
  steps: number;
  rounds: number;
  scale: number;
}

interface RunFigures {
  threads: number;
  examplesPerSecond: number;
  cpuMsPerStep: number;
  loss: number;
}

const WARMUP_STEPS = 60;

/** Examples [from, from + n) of a set. */
function slice(set: ExampleSet, from: number, n: number): ExampleSet {
  const to = Math.min(set.users.length, from + n);
  return { users: set.users.subarray(from, to), items: set.items.subarray(from, to), weights: set.weights?.subarray(from, to) };
}

function idOnlySetup(examples: number): { build: () => TwoTowerModel; data: ExampleSet; batchSize: number; learningRate: number } {
  const users = 50_000;
  const items = 20_000;
  const rng = createRng(42, { resumable: true });
  const u = new Int32Array(examples);
  const v = new Int32Array(examples);
  for (let i = 0; i < examples; i++) {
    u[i] = rng.int(users);
    v[i] = Math.floor(items * rng.next() ** 3);
  }
  const config: TwoTowerConfig = { users, items, dim: 64, layers: [128, 64], temperature: 0.05, logQ: true, seed: 1, userHistory: false, userIdDropout: 0, historyDropout: 0 };
  return { build: () => TwoTowerModel.create(config), data: { users: u, items: v }, batchSize: 256, learningRate: 0.001 };
}

function defaultSetup(scale: number): { build: () => TwoTowerModel; data: ExampleSet; batchSize: number; learningRate: number } {
  const data = defaultModelData(scale, DEFAULT_MODEL.tokenBuckets);
  const config = modelConfig(DEFAULT_MODEL, data.users, data.items);
  // The examples in a seeded order, so the warm-up and timed epochs draw from across the log.
  const order = Int32Array.from({ length: data.train.users.length }, (_, i) => i);
  const rng = createRng(9, { resumable: true });
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const shuffled = { users: order.map((i) => data.train.users[i]), items: order.map((i) => data.train.items[i]), weights: Float32Array.from(order, (i) => data.train.weights[i]) };
  return {
    build: () => {
      const model = TwoTowerModel.create(config, towerTokensFor(config, data.itemTokens));
      model.setUserHistories(data.histories);
      return model;
    },
    data: shuffled,
    batchSize: DEFAULT_TRAINING.batchSize,
    learningRate: DEFAULT_TRAINING.learningRate,
  };
}

async function timedRun(setup: ReturnType<typeof idOnlySetup>, threads: number, steps: number): Promise<RunFigures> {
  const model = setup.build();
  try {
    const { batchSize, learningRate } = setup;
    await train(model, slice(setup.data, 0, WARMUP_STEPS * batchSize), { epochs: 1, batchSize, learningRate, seed: 1, threads });
    const timed = slice(setup.data, WARMUP_STEPS * batchSize, steps * batchSize);
    const cpu = process.cpuUsage();
    const result = await train(model, timed, { epochs: 1, batchSize, learningRate, seed: 2, threads });
    const used = process.cpuUsage(cpu);
    return { threads: result.threads ?? 1, examplesPerSecond: result.examplesPerSecond, cpuMsPerStep: (used.user + used.system) / 1000 / result.steps, loss: result.history[0].loss };
  } finally {
    model.dispose();
  }
}

export async function printThreadsBench(options: ThreadsBenchOptions): Promise<void> {
  const load = loadavg()[0];
  const setup = options.model === 'id' ? idOnlySetup((WARMUP_STEPS + options.steps) * 256) : defaultSetup(options.scale);
  const needed = (WARMUP_STEPS + options.steps) * setup.batchSize;
  if (setup.data.users.length < needed) throw new Error(`--scale ${options.scale} has ${setup.data.users.length} examples, ${needed} needed for ${options.steps} steps; raise --scale or lower --steps`);
  const runs: RunFigures[] = [];
  for (let r = 0; r < options.rounds; r++) {
    runs.push(await timedRun(setup, 1, options.steps));
    runs.push(await timedRun(setup, options.threads, options.steps));
  }
  const label = options.model === 'id' ? "bench/train's ID-only shapes (50k x 20k, dim 64, MLP [128, 64], batch 256)" : `the default model on the synthetic source at scale ${options.scale}`;
  console.log(
    `Towers on worker threads — ${new Date().toISOString()}, ${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} cores), load average ${load.toFixed(1)} at start, Node ${process.version}\n`,
  );
  console.log(`${label}; a timed epoch of ${options.steps} batches after a ${WARMUP_STEPS}-batch warm-up, through \`train\`; runs alternated.\n`);
  console.log('| round | threads | examples / s | CPU ms / step (all threads) | final loss | speed-up over the round\'s one thread |');
  console.log('|---:|---:|---:|---:|---:|---:|');
  for (let i = 0; i < runs.length; i++) {
    const run = runs[i];
    const base = runs[i - (i % 2)];
    console.log(
      `| ${Math.floor(i / 2) + 1} | ${run.threads} | ${Math.round(run.examplesPerSecond).toLocaleString('en-US')} | ${run.cpuMsPerStep.toFixed(2)} | ${run.loss.toFixed(4)} | ${(run.examplesPerSecond / base.examplesPerSecond).toFixed(2)}x |`,
    );
  }
}
