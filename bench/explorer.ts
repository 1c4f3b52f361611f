/**
 * Embedding explorer: projection time of PCA and UMAP at 2k and 20k points, how well each
 * layout keeps neighbours, stock umap-js for reference, and the analyst queries end to end on
 * an in-memory PGlite (neighbour latency cold and warm, projection cold and cached).
 *
 *   npm run build && node dist/bench/explorer.js [--sizes 2000,20000] [--dim 64] [--stock-sizes 2000]
 *     [--epochs 25,50 (default: Graft's choice per size)] [--catalogue 20000 (0 skips the PGlite part)] [--queries 500]
 *
 * Points: unit vectors around sqrt(n) random centres (like L2-normalised tower outputs, with
 * topics). For 300 probe points: "kNN kept@10", the share of their 10 nearest neighbours in
 * the 2-D layout that are among their 10 nearest by cosine in the original space, and
 * "same cluster@10", the share of those 2-D neighbours drawn from the probe's own centre (what
 * an analyst reads off a map). Prints markdown on stdout, progress on stderr.
 */
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { UMAP } from 'umap-js';
import { connect } from '../src/db/connect.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { createRng } from '../src/dataset/random.js';
import { clearEmbeddingMatrices } from '../src/explorer/embedding-matrix.js';
import { nearestNeighbours } from '../src/explorer/embedding-lookup.js';
import { pca2 } from '../src/explorer/pca.js';
import { clearProjectionCache, projectEmbeddings } from '../src/explorer/projection.js';
import { umap2, umapEpochs } from '../src/explorer/umap-layout.js';
import { ingestItems } from '../src/logs/index.js';
import { createModel, markModelReady, saveEmbeddings } from '../src/registry/index.js';
import { exactTopK } from '../src/retrieval/exact.index.js';
import { clusteredUnitVectors } from '../src/retrieval/synthetic-vectors.js';
import { normaliseRows } from '../src/explorer/cosine-knn.js';
import { arg } from './bench-args.js';

const numbers = (text: string) => (text === '' ? [] : text.split(',').map(Number));

const SIZES = numbers(arg('sizes', '2000,20000'));
const STOCK_SIZES = numbers(arg('stock-sizes', '2000'));
const EPOCHS = numbers(arg('epochs', ''));
const DIM = Number(arg('dim', '64'));
const CATALOGUE = Number(arg('catalogue', '20000'));
const QUERIES = Number(arg('queries', '500'));
const PROBES = 300;
const K = 10;

const log = (message: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${message}\n`);
const fmt = (x: number, digits = 2) => x.toFixed(digits);
const seconds = async <T>(run: () => T | Promise<T>): Promise<[T, number]> => {
  const start = performance.now();
  const value = await run();
  return [value, (performance.now() - start) / 1000];
};

/** n unit vectors around `clusters` random centres (noise 0.6 of a centre's length), with each point's centre. */
function plantedClusters(n: number, clusters: number, seed: number): { vectors: Float32Array; cluster: Int32Array } {
  const rng = createRng(seed);
  const centres = normaliseRows(Float32Array.from({ length: clusters * DIM }, () => rng.normal()), clusters, DIM);
  const cluster = Int32Array.from({ length: n }, () => rng.int(clusters));
  const raw = Float32Array.from({ length: n * DIM }, (_, x) => centres[cluster[Math.floor(x / DIM)] * DIM + (x % DIM)] + (0.6 / Math.sqrt(DIM)) * rng.normal());
  return { vectors: normaliseRows(raw, n, DIM), cluster };
}

/** For PROBES points: [kNN kept@K, same cluster@K] of their K nearest 2-D neighbours. */
function layoutQuality(vectors: Float32Array, cluster: Int32Array, coords: Float32Array, n: number): [number, number] {
  const rng = createRng(99);
  let kept = 0;
  let same = 0;
  for (let p = 0; p < PROBES; p++) {
    const row = rng.int(n);
    const truth = new Set(exactTopK(vectors, DIM, vectors.subarray(row * DIM, (row + 1) * DIM), K, (r) => r === row).ids);
    const distance = new Float64Array(n);
    for (let j = 0; j < n; j++) distance[j] = j === row ? Infinity : (coords[2 * j] - coords[2 * row]) ** 2 + (coords[2 * j + 1] - coords[2 * row + 1]) ** 2;
    const near = Array.from(distance.keys()).sort((a, b) => distance[a] - distance[b]).slice(0, K);
    for (const j of near) {
      if (truth.has(j)) kept++;
      if (cluster[j] === cluster[row]) same++;
    }
  }
  return [kept / (PROBES * K), same / (PROBES * K)];
}

const projectionRows: string[] = [];
const quality = (vectors: Float32Array, cluster: Int32Array, coords: Float32Array, n: number) => layoutQuality(vectors, cluster, coords, n).map((x) => fmt(x)).join(' | ');
for (const n of SIZES) {
  const { vectors, cluster } = plantedClusters(n, Math.round(Math.sqrt(n)), 1);
  log(`${n} points: PCA`);
  const [pca, pcaSeconds] = await seconds(() => pca2(vectors, n, DIM));
  projectionRows.push(`| ${n.toLocaleString('en')} | PCA | ${fmt(pcaSeconds, 3)} | ${quality(vectors, cluster, pca.coords, n)} | explained variance ${fmt(pca.explainedVariance[0] + pca.explainedVariance[1])} |`);
  for (const nEpochs of EPOCHS.length > 0 ? EPOCHS : [umapEpochs(n)]) {
    log(`${n} points: UMAP (${nEpochs} epochs)`);
    const [umap, umapSeconds] = await seconds(() => umap2(vectors, n, DIM, { seed: 1, nEpochs }));
    const note = nEpochs === umapEpochs(n) ? 'default' : '';
    projectionRows.push(`| ${n.toLocaleString('en')} | UMAP (Graft: ${n <= 4000 ? 'exact' : 'HNSW'} kNN, PCA init, ${nEpochs} epochs) | ${fmt(umapSeconds)} | ${quality(vectors, cluster, umap, n)} | ${note} |`);
  }
  if (STOCK_SIZES.includes(n)) {
    log(`${n} points: stock umap-js fit (NN-descent, random init, its default epochs)`);
    const rng = createRng(1);
    const rows = Array.from({ length: n }, (_, i) => Array.from(vectors.subarray(i * DIM, (i + 1) * DIM)));
    const stock = new UMAP({ nComponents: 2, random: rng.next });
    const [layout, stockSeconds] = await seconds(() => stock.fit(rows));
    const coords = Float32Array.from(layout.flat());
    projectionRows.push(`| ${n.toLocaleString('en')} | UMAP (stock umap-js \`fit\`, euclidean) | ${fmt(stockSeconds)} | ${quality(vectors, cluster, coords, n)} | reference |`);
  }
}

/** End to end on an in-memory PGlite: a model with CATALOGUE item embeddings. */
async function endToEnd(): Promise<string[]> {
  const apiRows: string[] = [];
  log(`PGlite: registering a model with ${CATALOGUE} item embeddings`);
  const gdb = await connect({ databaseUrl: '', dataDir: 'memory://' });
  await migrateToLatest(gdb.db);
  const itemName = (i: number) => `item-${i}`;
  await ingestItems(gdb, 'bench', [Array.from({ length: CATALOGUE }, (_, i) => ({ item: itemName(i), title: `Item ${i}`, tags: [`tag-${i % 20}`] }))]);
  const ids = await gdb.db.selectFrom('items').select('id').orderBy('id').execute();
  const model = await createModel(gdb.db, { domain: 'bench', kind: 'PRETRAIN', config: {} });
  await saveEmbeddings(gdb.db, model.id, 'ITEM', Int32Array.from(ids, (r) => r.id), clusteredUnitVectors(CATALOGUE, DIM, { seed: 2, clusters: 140 }), DIM);
  await markModelReady(gdb.db, model.id, { metrics: {} });

  clearEmbeddingMatrices();
  const [, coldSeconds] = await seconds(() => nearestNeighbours(gdb.db, model.id, 'ITEM', itemName(0), 10));
  apiRows.push(`| nearestNeighbors, first = 10, cold (loads the ${CATALOGUE.toLocaleString('en')} x ${DIM} matrix) | ${fmt(coldSeconds * 1000, 0)} ms |`);
  const rng = createRng(5);
  const times = new Float64Array(QUERIES);
  for (let q = 0; q < QUERIES; q++) {
    const start = performance.now();
    await nearestNeighbours(gdb.db, model.id, 'ITEM', itemName(rng.int(CATALOGUE)), 10);
    times[q] = performance.now() - start;
  }
  times.sort();
  apiRows.push(`| nearestNeighbors, first = 10, warm: p50 / p99 over ${QUERIES} queries | ${fmt(times[Math.floor(0.5 * QUERIES)])} / ${fmt(times[Math.floor(0.99 * QUERIES)])} ms |`);
  for (const [method, sample] of [['PCA', 2000], ['UMAP', 2000], ['PCA', 20_000], ['UMAP', 20_000]] as const) {
    if (sample > CATALOGUE) continue;
    log(`PGlite: projectEmbeddings ${method} ${sample}`);
    clearProjectionCache();
    const [, cold] = await seconds(() => projectEmbeddings(gdb.db, { modelId: model.id, kind: 'ITEM', method, sample, colorBy: 'TAG' }));
    const [, cached] = await seconds(() => projectEmbeddings(gdb.db, { modelId: model.id, kind: 'ITEM', method, sample, colorBy: 'DOMAIN' }));
    clearProjectionCache();
    const [, stored] = await seconds(() => projectEmbeddings(gdb.db, { modelId: model.id, kind: 'ITEM', method, sample, colorBy: 'TAG' }));
    apiRows.push(`| projectEmbeddings ${method}, sample ${sample.toLocaleString('en')}: computed / cached layout, new colours / from the stored artifact | ${fmt(cold)} / ${fmt(cached)} / ${fmt(stored)} s |`);
  }
  await gdb.close();
  return apiRows;
}
const apiRows = CATALOGUE > 0 ? await endToEnd() : [];

console.log(`## Embedding explorer (\`bench/explorer\`, dim ${DIM})\n`);
console.log(`${cpus()[0]?.model ?? 'cpu'} x ${cpus().length}, Node ${process.version}, load average ${loadavg().map((x) => fmt(x)).join(' ')}, ${new Date().toISOString().slice(0, 10)}.\n`);
console.log(`Projection compute (unit vectors around sqrt(n) planted centres, seed 1). Over ${PROBES} probe points, of each one's ${K} nearest 2-D neighbours: kNN kept = share among its ${K} nearest by cosine; same cluster = share from its own centre.\n`);
console.log(`| points | method | seconds | kNN kept@${K} | same cluster@${K} | note |`);
console.log('|---:|---|---:|---:|---:|---|');
for (const line of projectionRows) console.log(line);
if (apiRows.length > 0) {
  console.log(`\nAnalyst queries on an in-memory PGlite, ${CATALOGUE.toLocaleString('en')} item embeddings:\n`);
  console.log('| query | time |');
  console.log('|---|---:|');
  for (const line of apiRows) console.log(line);
}
