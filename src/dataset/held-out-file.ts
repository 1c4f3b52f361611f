import { createReadStream, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { GraftError } from '../errors.js';
import type { HeldOutPair } from './splits.js';

export interface HeldOutFileOptions {
  format: 'tsv' | 'csv';
  /**
   * Where user and item are: zero-based column numbers, or header names (then the first line
   * is a header). Default `{ user: 0, item: 1 }`, the Amazon `user \t item \t 1` layout.
   */
  columns?: { user: number | string; item: number | string };
  /** Skip the first line even with numeric columns. */
  header?: boolean;
}

/**
 * Reads the test pairs of a fixed benchmark split, streaming the file line by line.
 *
 * @example
 * const pairs = await readHeldOutFile('data/sport_cloth/test.txt', { format: 'tsv' });
 * const split = heldOutSplit(ds, pairs);
 */
export async function readHeldOutFile(path: string, options: HeldOutFileOptions): Promise<HeldOutPair[]> {
  const columns = options.columns ?? { user: 0, item: 1 };
  const byName = typeof columns.user === 'string' || typeof columns.item === 'string';
  const hasHeader = byName || options.header === true;
  const split = options.format === 'csv' ? splitCsvLine : (line: string) => line.split('\t');
  let userAt = typeof columns.user === 'number' ? columns.user : -1;
  let itemAt = typeof columns.item === 'number' ? columns.item : -1;

  const pairs: HeldOutPair[] = [];
  const lines = createInterface({ input: openFile(path), crlfDelay: Infinity });
  let lineNumber = 0;
  for await (const raw of lines) {
    lineNumber++;
    const line = raw.replace(/^\uFEFF/, '');
    if (lineNumber === 1 && hasHeader) {
      const names = split(line).map((name) => name.trim());
      if (typeof columns.user === 'string') userAt = columnOf(names, columns.user, path);
      if (typeof columns.item === 'string') itemAt = columnOf(names, columns.item, path);
      continue;
    }
    if (line.trim() === '') continue;
    const fields = split(line);
    const user = fields[userAt]?.trim();
    const item = fields[itemAt]?.trim();
    if (!user || !item) {
      throw new GraftError(
        'BAD_INPUT',
        `${path}:${lineNumber} has no user in column ${userAt} or no item in column ${itemAt}; check the file format (${options.format}) and the columns option`,
      );
    }
    pairs.push({ user, item, line: lineNumber });
  }
  return pairs;
}

function openFile(path: string) {
  if (!existsSync(path)) {
    throw new GraftError('NOT_FOUND', `held-out file "${path}" does not exist; pass the path of the test file (e.g. test.txt)`);
  }
  return createReadStream(path, { encoding: 'utf8' });
}

function columnOf(names: string[], name: string, path: string): number {
  const at = names.indexOf(name);
  if (at < 0) {
    throw new GraftError('BAD_INPUT', `${path} has no column "${name}" in its header (${names.join(', ')}); pass the right name or a column number`);
  }
  return at;
}

/** One CSV line into fields, honouring double quotes and `""` escapes (no multi-line fields). */
export function splitCsvLine(line: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      fields.push(field);
      field = '';
    } else field += ch;
  }
  fields.push(field);
  return fields;
}
