/**
 * Training throughput of the model engine against the same towers written the plain
 * TF.js way (`tf.layers.embedding` + dense layers + in-batch softmax, `optimizer.minimize`),
 * batch 256, dim 64, MLP [128, 64], tables 50k users x 20k items, one process, one core.
 * Also: where a step's time goes, peak RSS, and a measured wasm matMul GFLOP/s that gives
 * a FLOP ceiling in examples/s for this model.
 *
 *   npm run build && node dist/bench/train.js [--steps 300] [--plain-steps 3] [--no-cpu] [--plain-cpu]
 *   npm run build && node dist/bench/train.js --loss-curve [--steps 360]
 *   npm run build && node dist/bench/train.js --model default [--scale 180] [--steps 300] [--bias-correction row|table] [--no-dropouts] [--item-audience] [--export DIR]
 *   npm run build && node dist/bench/train.js --model default --blocks 200 [--scale 25] [--steps 1200]
 *   npm run build && node dist/bench/train.js --threads 2 [--model id|default] [--scale 25] [--steps 600] [--rounds 2]
 *
 * `--loss-curve` only trains the ID-only engine on the timed run's batches (the 64 batches
 * cycled, lr 0.001, no warm-up split) and prints the loss every 60 steps, once per lazy-Adam
 * bias correction ('row', 'table'): the figures to set beside
 * `../shared/peers/torch_two_tower.py`'s on identical batches.
 *
 * `--model default` times the model `graft train` builds by default (tags, history pooling,
 * the declared settings' defaults) on the synthetic source of `graft seed --synthetic --scale S`
 * (scale 180: ~9.9M events), extrapolates one epoch's time, and with `--export DIR` writes the
 * run for `bench/peers/torch_default_model.py` (see `train-default-model.ts`).
 *
 * `--model default --blocks B` trains that model through the library's `train` loop for
 * `--steps` steps (default 1,200) and prints CPU, wall and sparse-update ms/step per block of
 * B steps, the loss at each block's end and a digest of every step's loss (equal digests: the
 * same training, bit for bit): a slowdown after some hundreds of steps shows, or its absence.
 *
 * `--threads N` trains through `train` on one thread and on N worker threads, alternated
 * (`train-threads.ts`): the data-parallel towers' speed-up and their loss.
 *
 * `--plain-cpu` also times one step of the plain version on the stock `cpu` backend
 * (its UnsortedSegmentSum is O(rows x batch x dim): minutes per step). Prints markdown.
 */
import { cpus, loadavg } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/model/backend.js';
import { createRng } from '../src/dataset/random.js';
import type { TokenBags } from '../src/model/token-hash.js';
import { TwoTowerModel, type StepTimings } from '../src/model/two-tower.model.js';
import type { AdamBiasCorrection } from '../src/model/sparse-optimizer.js';
import { DEFAULT_MODEL, DEFAULT_TRAINING } from '../src/workflows/model-settings.js';
import { benchDefaultModel, benchDefaultModelBlocks } from './train-default-model.js';
import { printThreadsBench } from './train-threads.js';

function arg(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(process.argv[at + 1]);
}

const USERS = 50_000;
const ITEMS = 20_000;
const BATCH = 256;
const DIM = 64;
const LAYERS = [128, 64];
const TOKEN_BUCKETS = 1 << 14;
const TOKENS_PER_ITEM = 5;
const STEPS = arg('steps', 300);
const WARMUP = 60; // wasm code tiers up over the first steps
const PLAIN_STEPS = arg('plain-steps', 3);
const RUN_CPU = !process.argv.includes('--no-cpu');
const PLAIN_CPU = process.argv.includes('--plain-cpu');
const TEMPERATURE = 0.05;
const ROUNDS = 5;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}
const LR = 0.001;

/** Skewed random batches (item popularity ~ r^3), fixed seed. */
function makeBatches(count: number): { users: Int32Array; items: Int32Array }[] {
  const rng = createRng(42, { resumable: true });
  return Array.from({ length: count }, () => {
    const users = new Int32Array(BATCH);
    const items = new Int32Array(BATCH);
    for (let i = 0; i < BATCH; i++) {
      users[i] = rng.int(USERS);
      items[i] = Math.floor(ITEMS * rng.next() ** 3);
    }
    return { users, items };
  });
}

function itemTokens(): TokenBags {
  const rng = createRng(7, { resumable: true });
  const offsets = new Int32Array(ITEMS + 1);
  const ids = new Int32Array(ITEMS * TOKENS_PER_ITEM);
  for (let i = 0; i < ITEMS; i++) {
    for (let t = 0; t < TOKENS_PER_ITEM; t++) ids[i * TOKENS_PER_ITEM + t] = rng.int(TOKEN_BUCKETS);
    offsets[i + 1] = (i + 1) * TOKENS_PER_ITEM;
  }
  return { offsets, ids };
}

/** Forward FLOPs per example: both MLPs + the example's row of the B x B logits. Training ~ 3x (backward = 2 matmuls per forward one). */
function trainingFlopsPerExample(userIn: number, itemIn: number): number {
  const mlp = (input: number) => {
    let flops = 0;
    let width = input;
    for (const units of LAYERS) {
      flops += 2 * width * units;
      width = units;
    }
    return flops;
  };
  const logits = 2 * BATCH * LAYERS[LAYERS.length - 1];
  return 3 * (mlp(userIn) + mlp(itemIn) + logits);
}

/** Measured GFLOP/s of tf.matMul on the model's own forward shapes [M, K] x [K, N] (and a 512^3 peak). */
function measureMatMul(): { model: number; peak: number } {
  const shapes: [number, number, number][] = [
    [BATCH, DIM, LAYERS[0]],
    [BATCH, 2 * DIM, LAYERS[0]],
    [BATCH, LAYERS[0], LAYERS[1]],
    [BATCH, LAYERS[1], BATCH],
  ];
  const time = (m: number, k: number, n: number, reps: number) =>
    tf.tidy(() => {
      const a = tf.randomNormal([m, k]);
      const b = tf.randomNormal([k, n]);
      for (let i = 0; i < 5; i++) tf.matMul(a, b).dataSync();
      const start = performance.now();
      for (let i = 0; i < reps; i++) tf.dispose(tf.matMul(a, b));
      tf.matMul(a, b).dataSync();
      return { flops: 2 * m * k * n * (reps + 1), ms: performance.now() - start };
    });
  let flops = 0;
  let ms = 0;
  for (const [m, k, n] of shapes) {
    const r = time(m, k, n, 400);
    flops += r.flops;
    ms += r.ms;
  }
  const peak = time(512, 512, 512, 40);
  return { model: flops / ms / 1e6, peak: peak.flops / peak.ms / 1e6 };
}

interface EngineResult {
  label: string;
  msPerStep: number;
  examplesPerSecond: number;
  timings: StepTimings;
  flopsPerExample: number;
}

function benchEngine(label: string, tokens: boolean, steps: number): EngineResult {
  const model = TwoTowerModel.create(
    { users: USERS, items: ITEMS, dim: DIM, layers: LAYERS, tokenBuckets: TOKEN_BUCKETS, temperature: TEMPERATURE, logQ: true, seed: 1 },
    tokens ? { itemTokens: itemTokens() } : {},
  );
  const batches = makeBatches(64);
  const counts = new Float32Array(ITEMS);
  for (const b of batches) for (const i of b.items) counts[i]++;
  model.setItemFrequencies(counts);
  for (let s = 0; s < WARMUP; s++) model.trainStep(batches[s % batches.length], LR);
  const before = tf.memory().numTensors;
  model.timings = { steps: 0, gatherMs: 0, forwardBackwardMs: 0, denseUpdateMs: 0, sparseUpdateMs: 0 };
  // Rounds, reporting the median: the machine may be shared, and one busy neighbour should not decide the figure.
  const perRound = Math.max(1, Math.round(steps / ROUNDS));
  const roundMs: number[] = [];
  let step = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const start = performance.now();
    for (let s = 0; s < perRound; s++) model.trainStep(batches[step++ % batches.length], LR);
    roundMs.push((performance.now() - start) / perRound);
  }
  const ms = median(roundMs) * steps;
  if (tf.memory().numTensors !== before) throw new Error(`tensor leak: ${before} -> ${tf.memory().numTensors}`);
  const timings = model.timings;
  model.dispose();
  return {
    label,
    msPerStep: ms / steps,
    examplesPerSecond: (steps * BATCH * 1000) / ms,
    timings,
    flopsPerExample: trainingFlopsPerExample(DIM, tokens ? 2 * DIM : DIM),
  };
}

/** The same towers as a TF.js user would write them: Layers API embeddings + dense layers, dense Adam via optimizer.minimize. */
function benchPlain(steps: number): { msPerStep: number; firstStepMs: number } {
  const embedding = (rows: number) => tf.layers.embedding({ inputDim: rows, outputDim: DIM, embeddingsInitializer: tf.initializers.randomNormal({ stddev: 0.05 }) });
  const mlp = () => LAYERS.map((units, l) => tf.layers.dense({ units, activation: l < LAYERS.length - 1 ? 'relu' : 'linear' }));
  const userEmbedding = embedding(USERS);
  const itemEmbedding = embedding(ITEMS);
  const userMlp = mlp();
  const itemMlp = mlp();
  const tower = (emb: tf.layers.Layer, dense: tf.layers.Layer[], ids: tf.Tensor2D) => {
    let h = tf.reshape(emb.apply(ids) as tf.Tensor, [ids.shape[0], DIM]);
    for (const layer of dense) h = layer.apply(h) as tf.Tensor;
    return tf.div(h, tf.norm(h, 'euclidean', 1, true));
  };
  const batches = makeBatches(8);
  const counts = new Float32Array(ITEMS).fill(1);
  const optimizer = tf.train.adam(LR);
  const loss = (b: { users: Int32Array; items: Int32Array }) => () => {
    const u = tower(userEmbedding, userMlp, tf.tensor2d(b.users, [BATCH, 1], 'int32'));
    const v = tower(itemEmbedding, itemMlp, tf.tensor2d(b.items, [BATCH, 1], 'int32'));
    const logQ = tf.log(tf.div(tf.gather(tf.tensor1d(counts), tf.tensor1d(b.items, 'int32')), ITEMS));
    const logits = tf.sub(tf.div(tf.matMul(u, v, false, true), TEMPERATURE), tf.reshape(logQ, [1, BATCH]));
    return tf.losses.softmaxCrossEntropy(tf.eye(BATCH), logits) as tf.Scalar;
  };
  // Build the layers' variables before minimize collects them.
  tf.tidy(() => void loss(batches[0])());
  const variables = [userEmbedding, itemEmbedding, ...userMlp, ...itemMlp].flatMap((l) => l.trainableWeights.map((w) => w.read() as tf.Variable));
  const step = (b: { users: Int32Array; items: Int32Array }) => tf.tidy(() => optimizer.minimize(loss(b), true, variables)!.dataSync()[0]);
  let start = performance.now();
  step(batches[0]);
  const firstStepMs = performance.now() - start;
  start = performance.now();
  for (let s = 0; s < steps; s++) step(batches[(s + 1) % batches.length]);
  const msPerStep = (performance.now() - start) / Math.max(1, steps);
  optimizer.dispose();
  for (const layer of [userEmbedding, itemEmbedding, ...userMlp, ...itemMlp]) layer.dispose();
  return { msPerStep: steps > 0 ? msPerStep : firstStepMs, firstStepMs };
}

/** Loss every 60 steps of the ID-only engine on the timed run's batches, with lazy Adam's bias correction `correction`. */
function lossCurve(correction: AdamBiasCorrection, steps: number): Map<number, number> {
  const model = TwoTowerModel.create({ users: USERS, items: ITEMS, dim: DIM, layers: LAYERS, tokenBuckets: TOKEN_BUCKETS, temperature: TEMPERATURE, logQ: true, seed: 1, adamBiasCorrection: correction });
  const batches = makeBatches(64);
  const counts = new Float32Array(ITEMS);
  for (const b of batches) for (const i of b.items) counts[i]++;
  model.setItemFrequencies(counts);
  const curve = new Map<number, number>();
  for (let s = 1; s <= steps; s++) {
    const loss = model.trainStep(batches[(s - 1) % batches.length], LR);
    if (s % 60 === 0 || s === 1) curve.set(s, loss);
  }
  model.dispose();
  return curve;
}

const fmt = (x: number, digits = 0) => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

async function main(): Promise<void> {
  const load = loadavg()[0];
  const info = await initBackend({ prefer: 'wasm' });
  if (info.backend !== 'wasm') throw new Error(`expected the wasm backend, got ${info.backend}`);
  if (process.argv.includes('--loss-curve')) {
    const steps = arg('steps', 360);
    const curves = (['row', 'table'] as const).map((c) => [c, lossCurve(c, steps)] as const);
    console.log(`Loss of the ID-only engine on bench/train's batches (lr ${LR}, seed 1), by lazy Adam's bias correction; load average ${fmt(load, 1)}\n`);
    console.log(`| step | ${curves.map(([c]) => `bias correction per ${c}`).join(' | ')} |`);
    console.log(`|---:|${curves.map(() => '---:').join('|')}|`);
    for (const step of curves[0][1].keys()) console.log(`| ${step} | ${curves.map(([, m]) => fmt(m.get(step)!, 3)).join(' | ')} |`);
    return;
  }
  if (process.argv.includes('--threads')) {
    const model = process.argv.includes('--model') ? process.argv[process.argv.indexOf('--model') + 1] : 'id';
    if (model !== 'default' && model !== 'id') throw new Error(`--model ${model}: use "default" or "id"`);
    return printThreadsBench({ model, threads: arg('threads', 2), steps: arg('steps', 600), rounds: arg('rounds', 2), scale: arg('scale', 25) });
  }
  if (process.argv.includes('--model')) {
    const model = process.argv[process.argv.indexOf('--model') + 1];
    if (model !== 'default' && model !== 'id') throw new Error(`--model ${model}: use "default" (the model graft train builds) or "id" (the ID-only engine, the default)`);
    if (model === 'default') return process.argv.includes('--blocks') ? await printDefaultModelBlocks(load) : await printDefaultModel(load);
  }
  const matmul = measureMatMul();

  const results: (EngineResult & { backend: string })[] = [];
  results.push({ backend: 'wasm', ...benchEngine('ID only', false, STEPS) });
  results.push({ backend: 'wasm', ...benchEngine(`ID + ${TOKENS_PER_ITEM} hashed tokens per item`, true, STEPS) });
  const engineRssMb = process.resourceUsage().maxRSS / 1024;
  if (RUN_CPU) {
    await tf.setBackend('cpu');
    results.push({ backend: 'cpu', ...benchEngine('ID only', false, Math.max(20, Math.round(STEPS / 5))) });
    await tf.setBackend('wasm');
  }
  const plainWasm = benchPlain(PLAIN_STEPS);
  let plainCpu: { msPerStep: number } | undefined;
  if (PLAIN_CPU) {
    await tf.setBackend('cpu');
    plainCpu = benchPlain(0);
    await tf.setBackend('wasm');
  }
  const maxRssMb = process.resourceUsage().maxRSS / 1024;

  const idOnly = results[0];
  const lines: string[] = [];
  lines.push(
    `Training throughput — ${new Date().toISOString().slice(0, 10)}, ${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} cores, one used; ` +
      `load average ${fmt(load, 1)} at start), Node ${process.version}, TF.js ${tf.version.tfjs}`,
  );
  lines.push('');
  lines.push(
    `Batch ${BATCH}, ID dim ${DIM}, MLP [${LAYERS.join(', ')}], ${USERS.toLocaleString('en-US')} users x ${ITEMS.toLocaleString('en-US')} items, ` +
      `in-batch softmax with logQ, Adam; median of ${ROUNDS} rounds over ${STEPS} steps after ${WARMUP} warmup steps.`,
  );
  lines.push('');
  lines.push('| backend | Graft engine | ms / step | examples / s | share of the matMul FLOP ceiling |');
  lines.push('|---|---|---:|---:|---:|');
  for (const r of results) {
    const ceiling = (matmul.model * 1e9) / r.flopsPerExample;
    const share = r.backend === 'wasm' ? `${fmt((100 * r.examplesPerSecond) / ceiling, 1)}% of ${fmt(ceiling)} ex/s` : '—';
    lines.push(`| ${r.backend} | ${r.label} | ${fmt(r.msPerStep, 2)} | ${fmt(r.examplesPerSecond)} | ${share} |`);
  }
  lines.push('');
  lines.push('| backend | plain TF.js (tf.layers.embedding + dense layers, optimizer.minimize), ID only | ms / step | examples / s | Graft (wasm, ID only) is faster by |');
  lines.push('|---|---|---:|---:|---:|');
  lines.push(
    `| wasm | with Graft's JS UnsortedSegmentSum kernel registered (stock wasm has none: "Kernel 'UnsortedSegmentSum' not registered") | ` +
      `${fmt(plainWasm.msPerStep, 1)} | ${fmt((BATCH * 1000) / plainWasm.msPerStep)} | ${fmt(plainWasm.msPerStep / idOnly.msPerStep, 1)}x |`,
  );
  if (plainCpu) {
    lines.push(
      `| cpu | stock kernels (1 step) | ${fmt(plainCpu.msPerStep, 0)} | ${fmt((BATCH * 1000) / plainCpu.msPerStep, 1)} | ${fmt(plainCpu.msPerStep / idOnly.msPerStep, 0)}x |`,
    );
  } else {
    lines.push('| cpu | stock kernels | not run (add --plain-cpu; minutes per step) | | |');
  }
  lines.push('');
  lines.push('Where a Graft step goes (wasm, ms per step, mean over the timed steps):');
  lines.push('');
  lines.push('| model | gather + batch prep | forward + backward + readback | dense Adam | sparse scatter + lazy Adam | total (mean) |');
  lines.push('|---|---:|---:|---:|---:|---:|');
  for (const r of results.filter((x) => x.backend === 'wasm')) {
    const t = r.timings;
    const per = (x: number) => fmt(x / t.steps, 2);
    const total = t.gatherMs + t.forwardBackwardMs + t.denseUpdateMs + t.sparseUpdateMs;
    lines.push(`| ${r.label} | ${per(t.gatherMs)} | ${per(t.forwardBackwardMs)} | ${per(t.denseUpdateMs)} | ${per(t.sparseUpdateMs)} | ${per(total)} |`);
  }
  lines.push('');
  lines.push(
    `wasm matMul: ${fmt(matmul.model, 1)} GFLOP/s on this model's shapes (${fmt(matmul.peak, 1)} GFLOP/s at 512^3). ` +
      `Training FLOPs per example (3 x forward, incl. the example's row of the B x B logits): ${fmt(idOnly.flopsPerExample)} (ID only), ` +
      `${fmt(results[1].flopsPerExample)} (with tokens). Ceiling = GFLOP/s / FLOPs per example.`,
  );
  lines.push(`Plain TF.js on wasm: first step (builds + compiles) ${fmt(plainWasm.firstStepMs, 0)} ms, then ${fmt(plainWasm.msPerStep, 1)} ms/step over ${PLAIN_STEPS} steps.`);
  lines.push(`Peak RSS: ${fmt(engineRssMb, 0)} MB after the Graft runs; ${fmt(maxRssMb, 0)} MB for the whole run (incl. the plain models).`);
  console.log(lines.join('\n'));
}

async function printDefaultModelBlocks(load: number): Promise<void> {
  const blockSize = arg('blocks', 200);
  const steps = arg('steps', 1200);
  if (!(Number.isInteger(blockSize) && blockSize > 0 && Number.isInteger(steps) && steps > 0)) throw new Error(`--blocks ${blockSize} --steps ${steps}: use integers > 0`);
  const correction = process.argv.includes('--bias-correction') ? (process.argv[process.argv.indexOf('--bias-correction') + 1] as AdamBiasCorrection) : undefined;
  const r = await benchDefaultModelBlocks({ scale: arg('scale', 25), steps, blockSize, biasCorrection: correction });
  console.log(
    `Default model through \`train\`, scale ${r.data.scale} (${fmt(r.data.events)} events, ${fmt(r.stepsPerEpoch)} steps per epoch), ${steps} steps in blocks of ${blockSize} — ` +
      `${new Date().toISOString().slice(0, 16)}Z, load average ${fmt(load, 1)} at start, ${fmt(loadavg()[0], 1)} at end, Node ${process.version}\n`,
  );
  console.log('| steps | CPU ms / step | wall ms / step | sparse scatter + lazy Adam ms / step | loss at the last step |');
  console.log('|---|---:|---:|---:|---:|');
  for (const b of r.blocks) console.log(`| ${b.from}-${b.to} | ${fmt(b.cpuMsPerStep, 2)} | ${fmt(b.wallMsPerStep, 2)} | ${fmt(b.sparseMsPerStep, 2)} | ${b.loss.toPrecision(17)} |`);
  console.log(`\nDigest of every step's loss (FNV-1a over the float64s): ${r.lossDigest}. Peak RSS: ${fmt(process.resourceUsage().maxRSS / 1024, 0)} MB.`);
}

async function printDefaultModel(load: number): Promise<void> {
  const at = process.argv.indexOf('--export');
  const correction = process.argv.includes('--bias-correction') ? (process.argv[process.argv.indexOf('--bias-correction') + 1] as AdamBiasCorrection) : undefined;
  if (correction !== undefined && correction !== 'row' && correction !== 'table') throw new Error(`--bias-correction ${correction}: use row or table`);
  const r = await benchDefaultModel({ scale: arg('scale', 180), steps: STEPS, warmup: WARMUP, rounds: ROUNDS, biasCorrection: correction, exportDir: at === -1 ? undefined : process.argv[at + 1], noDropouts: process.argv.includes('--no-dropouts'), itemAudience: process.argv.includes('--item-audience') });
  const rssMb = process.resourceUsage().maxRSS / 1024;
  const d = r.data;
  const t = r.timings;
  const per = (x: number) => fmt(x / t.steps, 2);
  const lines = [
    `Default model (graft train's defaults) — ${new Date().toISOString().slice(0, 10)}, ${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} cores, one used; ` +
      `load average ${fmt(load, 1)} at start), Node ${process.version}, TF.js ${tf.version.tfjs}`,
    '',
    `Data: synthetic source of \`graft seed --synthetic --scale ${d.scale}\` (generated in ${fmt(d.generateMs / 1000, 1)} s): ${fmt(d.users)} users x ${fmt(d.items)} items, ` +
      `${fmt(d.events)} events, ${fmt(d.train.users.length)} training examples after the validation carve (\`--split none\`), ${fmt(d.itemTokens.ids.length / d.items, 2)} tags per item, ` +
      `history pool of the last ${r.historyLength} training items.`,
    `Model: dim ${DEFAULT_MODEL.dim}, MLP [${DEFAULT_MODEL.layers.join(', ')}], tower inputs user ${r.inputDims.user} (ID | history) and item ${r.inputDims.item} (ID | tags${process.argv.includes('--item-audience') ? ' | audience' : ''}), ` +
      `${r.dropouts.userId > 0 || r.dropouts.history > 0 ? `user-ID dropout ${r.dropouts.userId}, history dropout ${r.dropouts.history}` : 'no user-ID or history dropout'}, ` +
      `temperature ${DEFAULT_MODEL.temperature}, logQ, lazy Adam (bias correction per ${correction ?? 'row'}), lr ${DEFAULT_TRAINING.learningRate} with ${DEFAULT_TRAINING.schedule?.warmupSteps}-step warm-up and cosine decay over one epoch, ` +
      `clip norm ${DEFAULT_TRAINING.clipNorm}, batch ${r.batchSize}; median of ${ROUNDS} rounds over ${STEPS} steps after ${WARMUP} warm-up steps.`,
    '',
    '| default model (tags + history) | ms / step | examples / s | rounds (ms / step) | CPU ms / step | examples / CPU s | one epoch of ' + fmt(r.stepsPerEpoch) + ' steps (extrapolated) |',
    '|---|---:|---:|---|---:|---:|---:|',
    `| bare steps (\`trainStep\`) | ${fmt(r.msPerStep, 2)} | ${fmt(r.examplesPerSecond)} | ${r.roundMs.map((x) => fmt(x, 1)).join(' ')} | ${fmt(r.cpuMsPerStep, 2)} | ${fmt((r.batchSize * 1000) / r.cpuMsPerStep)} | ${fmt(r.epochMinutes, 1)} min |`,
    `| through \`train\` (the loop of \`graft train\`) | ${fmt(r.loop.msPerStep, 2)} | ${fmt((r.batchSize * 1000) / r.loop.msPerStep)} | one round | ${fmt(r.loop.cpuMsPerStep, 2)} | ${fmt((r.batchSize * 1000) / r.loop.cpuMsPerStep)} | ${fmt((r.stepsPerEpoch * r.loop.msPerStep) / 60_000, 1)} min |`,
    '',
    '| gather + batch prep | forward + backward + readback | dense Adam | sparse scatter + lazy Adam | total (mean) |',
    '|---:|---:|---:|---:|---:|',
    `| ${per(t.gatherMs)} | ${per(t.forwardBackwardMs)} | ${per(t.denseUpdateMs)} | ${per(t.sparseUpdateMs)} | ${per(t.gatherMs + t.forwardBackwardMs + t.denseUpdateMs + t.sparseUpdateMs)} |`,
    '',
    `Loss at step ${[...new Set([1, 60, 120, 240, r.losses.length])].filter((s) => s <= r.losses.length).map((s) => `${s}: ${fmt(r.losses[s - 1], 3)}`).join(', ')}.`,
    `Peak RSS: ${fmt(rssMb, 0)} MB.`,
  ];
  console.log(lines.join('\n'));
}

await main();
