import type { Migration } from 'kysely';
import * as core from './2026-11-27T1800-core-catalogue.js';
import * as models from './2026-11-27T1810-models.js';
import * as jobs from './2026-11-27T1820-jobs-and-keys.js';
import * as joint from './2026-12-03T1730-joint-strategy.js';

/**
 * Every migration, by name; names sort in the order they run. Listed explicitly
 * (not read from the folder) so the same code runs from `src` under vitest and
 * from `dist` after `tsc`.
 */
export const migrations: Record<string, Migration> = {
  '2026-11-27T1800-core-catalogue': core,
  '2026-11-27T1810-models': models,
  '2026-11-27T1820-jobs-and-keys': jobs,
  '2026-12-03T1730-joint-strategy': joint,
};
