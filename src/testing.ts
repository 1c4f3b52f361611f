/**
 * `graft/testing`: deterministic synthetic data with planted structure, for trying Graft
 * without real logs, for tests and for benchmarks. Every generator is seeded: the same
 * options give the same data on every machine.
 *
 * @example
 * import { connect } from 'graft';
 * import { seedSynthetic } from 'graft/testing';
 * await seedSynthetic(await connect(), { seed: 7 });
 */
export { seedSynthetic, type SeedOptions, type SeedSummary } from '../seeds/seed-database.js';
export { generateCrossDomain, type CrossDomain, type CrossDomainOptions, type CrossDomainTruth, type SyntheticDomain } from '../seeds/synthetic-domains.js';
export { clusteredUnitVectors, type ClusteredVectorsOptions } from './retrieval/synthetic-vectors.js';
