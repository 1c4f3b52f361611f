import { GraftError } from '../errors.js';
import type { SplitSpec } from '../workflows/split-spec.js';

export interface SplitCliOptions {
  split: string;
  testFile?: string;
  format: 'tsv' | 'csv';
}

/** `--split loo|temporal:N|none` or `--test-file F` -> a SplitSpec. */
export function splitFromOptions(o: SplitCliOptions): SplitSpec {
  if (o.testFile) return { kind: 'file', path: o.testFile, format: o.format };
  if (o.split === 'loo') return { kind: 'leave-one-out', mode: 'last' };
  if (o.split === 'none') return { kind: 'none' };
  const temporal = /^temporal:(\d+)$/.exec(o.split);
  if (temporal && Number(temporal[1]) > 0) return { kind: 'temporal', lastN: Number(temporal[1]) };
  throw new GraftError('BAD_INPUT', `--split "${o.split}" is unknown; use loo, temporal:N (e.g. temporal:2) or none, or give --test-file`);
}
