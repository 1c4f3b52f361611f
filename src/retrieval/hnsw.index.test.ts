import { describe, expect, it } from 'vitest';
import { runCandidateIndexContract } from './candidate-index.contract.js';
import { createExactIndex } from './exact.index.js';
import { buildHnswIndex, createHnswIndex, loadHnswIndex } from './hnsw.index.js';
import { loadCandidateIndex } from './load-candidate-index.js';
import { clusteredUnitVectors } from './synthetic-vectors.js';

runCandidateIndexContract('hnsw', {
  // One build thread: a reproducible graph, so the contract's recall checks cannot flake.
  build: (vectors, dim) => createHnswIndex(vectors, dim, { seed: 7, threads: 1 }),
  load: (bytes, vectors, dim) => loadHnswIndex(bytes, vectors, dim),
});

describe('hnsw index', () => {
  const dim = 32;
  const vectors = clusteredUnitVectors(5_000, dim, { clusters: 64, seed: 5 });
  const queries = clusteredUnitVectors(10, dim, { clusters: 64, seed: 6, centresSeed: 5 });
  const query = (q: number) => queries.subarray(q * dim, (q + 1) * dim);

  it('falls back to the exact answer when exclusions need a fetch beyond exactFallbackAbove', () => {
    const exact = createExactIndex(vectors, dim);
    const hnsw = createHnswIndex(vectors, dim, { exactFallbackAbove: 50 });
    // 95% of rows excluded: the first over-fetch keeps ~2 rows and the refill crosses 50.
    const exclude = (row: number) => row % 20 !== 0;
    for (let q = 0; q < 10; q++) {
      const expected = exact.search(query(q), 20, { exclude });
      const found = hnsw.search(query(q), 20, { exclude });
      expect([...found.ids]).toEqual([...expected.ids]);
    }
  });

  it('refills from the graph when the first over-fetch is mostly excluded', () => {
    const exact = createExactIndex(vectors, dim);
    const hnsw = createHnswIndex(vectors, dim, { exactFallbackAbove: Number.POSITIVE_INFINITY, threads: 1 });
    let hits = 0;
    for (let q = 0; q < 10; q++) {
      const best = new Set(exact.search(query(q), 60).ids);
      const asked = new Set<number>();
      const exclude = (row: number) => (asked.add(row), best.has(row));
      const found = hnsw.search(query(q), 20, { exclude });
      expect(found.ids.length).toBe(20);
      expect(asked.size).toBeGreaterThan(2 * 20 + 16); // more than the first fetch: a refill ran
      const expected = new Set(exact.search(query(q), 20, { exclude: (row) => best.has(row) }).ids);
      for (const row of found.ids) {
        expect(best.has(row)).toBe(false);
        if (expected.has(row)) hits++;
      }
    }
    expect(hits / 200).toBeGreaterThanOrEqual(0.9);
  });

  it('builds the same graph for the same seed with one thread', () => {
    const a = createHnswIndex(vectors, dim, { seed: 3, threads: 1 }).toBytes();
    const b = createHnswIndex(vectors, dim, { seed: 3, threads: 1 }).toBytes();
    expect(Buffer.compare(a, b)).toBe(0);
  });

  it('keeps recall when built with several threads in one add (usearch reserves per-thread state first)', () => {
    const exact = createExactIndex(vectors, dim);
    const hnsw = createHnswIndex(vectors, dim, { threads: 2 });
    let hits = 0;
    for (let q = 0; q < 10; q++) {
      const expected = new Set(exact.search(query(q), 20).ids);
      for (const row of hnsw.search(query(q), 20).ids) if (expected.has(row)) hits++;
    }
    expect(hits / 200).toBeGreaterThanOrEqual(0.95);
  });

  it('builds on a worker thread the same graph as createHnswIndex, while the event loop keeps turning', async () => {
    let turns = 0;
    let running = true;
    const spin = () => {
      turns++;
      if (running) setImmediate(spin);
    };
    setImmediate(spin);
    const built = await buildHnswIndex(vectors, dim, { seed: 3, threads: 1 });
    running = false;
    expect(turns).toBeGreaterThan(10);
    const reference = createHnswIndex(vectors, dim, { seed: 3, threads: 1 });
    expect(Buffer.compare(built.toBytes(), reference.toBytes())).toBe(0);
    expect([...built.search(query(0), 10, { exclude: (row) => row % 2 === 0 }).ids]).toEqual([
      ...reference.search(query(0), 10, { exclude: (row) => row % 2 === 0 }).ids,
    ]);
    expect((await buildHnswIndex(new Float32Array(0), dim)).size).toBe(0);
  });

  it('refuses to load with other vectors than it was built from', () => {
    const bytes = createHnswIndex(vectors, dim).toBytes();
    // Another model version's embeddings: same shape, every value moved a little.
    const other = vectors.map((x, i) => x + (i % 2 === 0 ? 1e-3 : -1e-3));
    expect(() => loadHnswIndex(bytes, other, dim)).toThrow(/different values.*pass the embeddings of the model version/);
    expect(() => loadHnswIndex(bytes, vectors.subarray(0, 100 * dim), dim)).toThrow(/5000 x 32 .* \(100 x 32/);
  });

  it('loads through loadCandidateIndex whatever the kind', () => {
    const hnsw = createHnswIndex(vectors, dim);
    const loaded = loadCandidateIndex(hnsw.toBytes(), vectors);
    expect(loaded.kind).toBe('hnsw');
    expect([...loaded.search(query(0), 10).ids]).toEqual([...hnsw.search(query(0), 10).ids]);
    expect(() => loadCandidateIndex(hnsw.toBytes())).toThrow(/pass those item vectors/);
    expect(loadCandidateIndex(createExactIndex(vectors, dim).toBytes()).kind).toBe('exact');
  });

  it('rejects bad graph parameters with BAD_INPUT', () => {
    expect(() => createHnswIndex(vectors, dim, { connectivity: 0 })).toThrow(/connectivity = 0 is not a positive integer/);
  });
});
