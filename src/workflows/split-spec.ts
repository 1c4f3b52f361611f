import type { Dataset, Split } from '../dataset/dataset.js';
import { readHeldOutFile } from '../dataset/held-out-file.js';
import { heldOutSplit, leaveOneOutSplit, temporalSplit, timeCutSplit, type HeldOutDrops } from '../dataset/splits.js';
import { GraftError } from '../errors.js';

/**
 * How a domain's log is cut into train and test; stored in a model's config so that
 * `graft eval` can rebuild the same test set.
 */
export type SplitSpec =
  | { kind: 'leave-one-out'; mode: 'last' | 'random'; seed?: number }
  | { kind: 'temporal'; lastN: number }
  | { kind: 'time-cut'; cut: string }
  | { kind: 'file'; path: string; format: 'tsv' | 'csv' }
  | { kind: 'none' };

export const DEFAULT_SPLIT: SplitSpec = { kind: 'leave-one-out', mode: 'last' };

/** A split of a domain, with what a held-out file left out and the test users it added. */
export interface AppliedSplit extends Split {
  /** Held-out pairs left out of test (0 for every split but a file). */
  unknownTestPairs: number;
  dropped: HeldOutDrops;
  /** Test users without events in the domain, scored from rows they have elsewhere (`coldStartUsers`); indexes after the dataset's users. */
  addedUsers: { ids: readonly string[]; dbIds: Int32Array };
}

const NOTHING_DROPPED: HeldOutDrops = { header: 0, unknownUser: 0, unknownItem: 0 };
const NO_USERS = { ids: [], dbIds: new Int32Array(0) };

/**
 * Applies a split spec. For a file, `coldStartUsers` (external id -> database id) names the
 * test users without events in the domain that can still be scored (see `heldOutSplit`).
 */
export async function applySplit(dataset: Dataset, spec: SplitSpec, options: { coldStartUsers?: ReadonlyMap<string, number> } = {}): Promise<AppliedSplit> {
  const generated = (split: Split): AppliedSplit => ({ ...split, unknownTestPairs: 0, dropped: { ...NOTHING_DROPPED }, addedUsers: NO_USERS });
  switch (spec.kind) {
    case 'leave-one-out':
      return generated(leaveOneOutSplit(dataset, { mode: spec.mode, seed: spec.seed }));
    case 'temporal':
      return generated(temporalSplit(dataset, { lastN: spec.lastN }));
    case 'time-cut':
      return generated(timeCutSplit(dataset, { cut: new Date(spec.cut) }));
    case 'file': {
      const pairs = await readHeldOutFile(spec.path, { format: spec.format });
      const split = heldOutSplit(dataset, pairs, options);
      return { train: split.train, test: split.test, unknownTestPairs: split.unknown.pairs, dropped: split.dropped, addedUsers: split.addedUsers };
    }
    case 'none':
      return generated({
        train: dataset.interactions,
        test: { users: new Int32Array(0), items: new Int32Array(0), weights: new Float32Array(0), times: new Float64Array(0) },
      });
    default:
      throw new GraftError('BAD_INPUT', `split ${JSON.stringify(spec)} is unknown; use leave-one-out, temporal, time-cut, file or none`);
  }
}
