/**
 * Candidate retrieval: exact top-k against HNSW (usearch) over clustered random unit vectors
 * (dim 64, seeded), k = 20: build time, query latency p50/p99 (one query at a time, one
 * thread, as a request would run), recall@20 of HNSW against exact, RSS, serialised size;
 * then latency and recall with 200 excluded ("seen") rows per query, and with a filter that
 * excludes 90% of rows (the over-fetch/refill/exact-fallback path).
 *
 *   npm run build && node dist/bench/retrieval.js [--sizes 100000,1000000] [--queries 1000]
 *     [--connectivity 16] [--expansion-add 128] [--expansion-search 64,128,256] [--threads 0]
 *
 * Prints markdown tables on stdout, progress on stderr.
 */
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { createRng } from '../src/dataset/random.js';
import { clusteredUnitVectors } from '../src/retrieval/synthetic-vectors.js';
import { createExactIndex } from '../src/retrieval/exact.index.js';
import { createHnswIndex, loadHnswIndex } from '../src/retrieval/hnsw.index.js';
import type { CandidateIndex, SearchResult } from '../src/retrieval/candidate-index.js';
import { arg } from './bench-args.js';

const numbers = (text: string) => text.split(',').map(Number);

const SIZES = numbers(arg('sizes', '100000,1000000'));
const QUERIES = Number(arg('queries', '1000'));
const CONNECTIVITY = Number(arg('connectivity', '16'));
const EXPANSION_ADD = Number(arg('expansion-add', '128'));
const EXPANSION_SEARCH = numbers(arg('expansion-search', '64,128,256'));
const THREADS = Number(arg('threads', '0'));
const DIM = 64;
const K = 20;
const SEEN = 200;
const WARMUP = 50;

const log = (message: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${message}\n`);
const rssMb = () => Math.round(process.memoryUsage().rss / 2 ** 20);
const fmt = (x: number, digits = 2) => x.toFixed(digits);

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

interface Run {
  results: SearchResult[];
  p50: number;
  p99: number;
}

function timeQueries(index: CandidateIndex, queries: Float32Array, exclude?: (q: number) => (row: number) => boolean): Run {
  const count = queries.length / DIM;
  const query = (q: number) => queries.subarray(q * DIM, (q + 1) * DIM);
  for (let q = 0; q < Math.min(WARMUP, count); q++) index.search(query(q), K, exclude && { exclude: exclude(q) });
  const times = new Float64Array(count);
  const results: SearchResult[] = [];
  for (let q = 0; q < count; q++) {
    const options = exclude && { exclude: exclude(q) };
    const start = performance.now();
    results.push(index.search(query(q), K, options));
    times[q] = performance.now() - start;
  }
  times.sort();
  return { results, p50: percentile(times, 0.5), p99: percentile(times, 0.99) };
}

function recall(found: SearchResult[], truth: SearchResult[]): number {
  let hits = 0;
  let total = 0;
  for (let q = 0; q < truth.length; q++) {
    const expected = new Set(truth[q].ids);
    for (const row of found[q].ids) if (expected.has(row)) hits++;
    total += expected.size;
  }
  return hits / total;
}

const rows: string[] = [];
const row = (cells: (string | number)[]) => rows.push(`| ${cells.join(' | ')} |`);
const filterRows: string[] = [];
const filterRow = (cells: (string | number)[]) => filterRows.push(`| ${cells.join(' | ')} |`);

for (const size of SIZES) {
  log(`${size} items: generating`);
  const clusters = Math.max(64, Math.round(Math.sqrt(size)));
  const items = clusteredUnitVectors(size, DIM, { clusters, seed: 1 });
  const queries = clusteredUnitVectors(QUERIES, DIM, { clusters, seed: 2, centresSeed: 1 });
  // Per query, 200 random rows count as seen (a user's history) and must not be returned.
  const seenSets = Array.from({ length: QUERIES }, (_, q) => {
    const rng = createRng(1_000 + q);
    return new Set(Array.from({ length: SEEN }, () => rng.int(size)));
  });
  const exclude = (q: number) => (r: number) => seenSets[q].has(r);
  // A filter keeping one row in ten (e.g. one category or region), different per query.
  const filter = (q: number) => (r: number) => r % 10 !== q % 10;
  const baseRss = rssMb();

  log(`${size} items: exact`);
  let start = performance.now();
  const exact = createExactIndex(items, DIM);
  const exactBuild = (performance.now() - start) / 1000;
  const exactRun = timeQueries(exact, queries);
  const exactSeen = timeQueries(exact, queries, exclude);
  const exactFiltered = timeQueries(exact, queries, filter);
  row([size.toLocaleString('en'), 'exact', fmt(exactBuild, 3), fmt(exactRun.p50), fmt(exactRun.p99), '1.000', baseRss, fmt(size * DIM * 4 / 2 ** 20, 0)]);
  filterRow([size.toLocaleString('en'), 'exact', fmt(exactSeen.p50), fmt(exactSeen.p99), '1.000', fmt(exactFiltered.p50), fmt(exactFiltered.p99), '1.000']);

  log(`${size} items: HNSW build (connectivity ${CONNECTIVITY}, expansionAdd ${EXPANSION_ADD}, threads ${THREADS || cpus().length})`);
  start = performance.now();
  const built = createHnswIndex(items, DIM, { connectivity: CONNECTIVITY, expansionAdd: EXPANSION_ADD, expansionSearch: EXPANSION_SEARCH[0], threads: THREADS });
  const hnswBuild = (performance.now() - start) / 1000;
  const builtRss = rssMb();
  log(`${size} items: built in ${fmt(hnswBuild, 1)} s, RSS ${builtRss} MB; serialising`);
  start = performance.now();
  const bytes = built.toBytes();
  const saveSeconds = (performance.now() - start) / 1000;
  for (const expansionSearch of EXPANSION_SEARCH) {
    start = performance.now();
    const hnsw = loadHnswIndex(bytes, items, DIM, { expansionSearch });
    const loadSeconds = (performance.now() - start) / 1000;
    log(`${size} items: HNSW ef ${expansionSearch} (loaded in ${fmt(loadSeconds, 2)} s): queries`);
    const run = timeQueries(hnsw, queries);
    const seen = timeQueries(hnsw, queries, exclude);
    const filtered = timeQueries(hnsw, queries, filter);
    const name = `hnsw M=${CONNECTIVITY} efAdd=${EXPANSION_ADD} ef=${expansionSearch}`;
    row([
      size.toLocaleString('en'),
      name,
      `${fmt(hnswBuild, 1)} (save ${fmt(saveSeconds, 1)}, load ${fmt(loadSeconds, 1)})`,
      fmt(run.p50),
      fmt(run.p99),
      fmt(recall(run.results, exactRun.results), 3),
      `${builtRss} (+${builtRss - baseRss})`,
      fmt(bytes.length / 2 ** 20, 0),
    ]);
    filterRow([
      size.toLocaleString('en'),
      name,
      fmt(seen.p50),
      fmt(seen.p99),
      fmt(recall(seen.results, exactSeen.results), 3),
      fmt(filtered.p50),
      fmt(filtered.p99),
      fmt(recall(filtered.results, exactFiltered.results), 3),
    ]);
  }
}

console.log(`## Candidate retrieval (dim ${DIM}, k = ${K}, ${QUERIES.toLocaleString('en')} queries one at a time)\n`);
console.log(`${cpus()[0]?.model ?? 'cpu'} x ${cpus().length}, Node ${process.version}, load average ${loadavg().map((x) => fmt(x)).join(' ')}, ${new Date().toISOString().slice(0, 10)}.`);
console.log(`Items: clustered unit vectors (sqrt(n) centres, Zipf sizes, seed 1); "seen": ${SEEN} random rows excluded per query. Build threads: ${THREADS || cpus().length}; queries: 1 thread.\n`);
console.log('| items | index | build s | p50 ms | p99 ms | recall@20 | RSS MB | bytes MB |');
console.log('|---|---|---|---|---|---|---|---|');
for (const line of rows) console.log(line);
console.log(`\nWith exclusions: ${SEEN} random "seen" rows per query; a filter excluding 90% of rows (row % 10 != q % 10).\n`);
console.log('| items | index | p50 ms, seen | p99 ms, seen | recall@20, seen | p50 ms, 90% filtered | p99 ms, 90% filtered | recall@20, 90% filtered |');
console.log('|---|---|---|---|---|---|---|---|');
for (const line of filterRows) console.log(line);
