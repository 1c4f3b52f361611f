import type { Dataset, Split } from '../dataset/dataset.js';
import { readHeldOutFile } from '../dataset/held-out-file.js';
import { heldOutSplit, leaveOneOutSplit, temporalSplit, timeCutSplit } from '../dataset/splits.js';
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

/** Applies a split spec; `unknownTestPairs` counts held-out pairs naming users or items the dataset lacks. */
export async function applySplit(dataset: Dataset, spec: SplitSpec): Promise<Split & { unknownTestPairs: number }> {
  switch (spec.kind) {
    case 'leave-one-out':
      return { ...leaveOneOutSplit(dataset, { mode: spec.mode, seed: spec.seed }), unknownTestPairs: 0 };
    case 'temporal':
      return { ...temporalSplit(dataset, { lastN: spec.lastN }), unknownTestPairs: 0 };
    case 'time-cut':
      return { ...timeCutSplit(dataset, { cut: new Date(spec.cut) }), unknownTestPairs: 0 };
    case 'file': {
      const pairs = await readHeldOutFile(spec.path, { format: spec.format });
      const split = heldOutSplit(dataset, pairs);
      return { train: split.train, test: split.test, unknownTestPairs: split.unknown.pairs };
    }
    case 'none':
      return {
        train: dataset.interactions,
        test: { users: new Int32Array(0), items: new Int32Array(0), weights: new Float32Array(0), times: new Float64Array(0) },
        unknownTestPairs: 0,
      };
    default:
      throw new GraftError('BAD_INPUT', `split ${JSON.stringify(spec)} is unknown; use leave-one-out, temporal, time-cut, file or none`);
  }
}
