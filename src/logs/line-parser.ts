import type { EventKind } from '../db/tables/event.table.js';
import { GraftError } from '../errors.js';
import {
  columnForKey,
  columnPositions,
  DEFAULT_EVENT_COLUMNS,
  DEFAULT_ITEM_COLUMNS,
  EVENT_COLUMNS,
  ITEM_COLUMNS,
  type EventColumn,
  type ItemColumn,
} from './column-spec.js';
import type { EventRecord, ItemRecord } from './event-record.js';
import { eventProblem, itemProblem, MAX_FUTURE_MS, type RecordPolicy } from './record-validator.js';
import { BadValue, isBlank, parseFeatures, parseId, parseKind, parseTags, parseTime, parseTitle, parseWeight } from './value-parsers.js';

export const FILE_FORMATS = ['tsv', 'csv', 'jsonl'] as const;
export type FileFormat = (typeof FILE_FORMATS)[number];

/** The format a file name implies: `.tsv`/`.txt` tab-separated, `.csv`, `.jsonl`/`.ndjson`. */
export function formatFromPath(path: string): FileFormat {
  const ext = /\.([A-Za-z0-9]+)$/.exec(path)?.[1]?.toLowerCase();
  if (ext === 'tsv' || ext === 'txt' || ext === 'tab') return 'tsv';
  if (ext === 'csv') return 'csv';
  if (ext === 'jsonl' || ext === 'ndjson') return 'jsonl';
  throw new GraftError('BAD_INPUT', `cannot tell the format of "${path}" from its extension; pass --format tsv, csv or jsonl`);
}

/**
 * Fields of one CSV record (RFC 4180: `"` quotes a field, `""` is a quote inside it), or
 * undefined while a quoted field is still open: it continues on the next line.
 *
 * @example
 * splitCsv('u1,"Ball, size 5","say ""hi"""') // ['u1', 'Ball, size 5', 'say "hi"']
 */
export function splitCsv(text: string): string[] | undefined {
  if (text.indexOf('"') === -1) return text.split(',');
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (text.charCodeAt(i) === 34 /* " */) {
      let value = '';
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q === -1) return undefined;
        value += text.slice(i, q);
        if (text.charCodeAt(q + 1) === 34) {
          value += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      fields.push(value);
      if (i === text.length) return fields;
      if (text.charCodeAt(i) !== 44 /* , */) {
        throw new BadValue(`field ${fields.length} has text after its closing quote; inside a quoted field write a quote as ""`);
      }
      i++;
    } else {
      const comma = text.indexOf(',', i);
      if (comma === -1) {
        fields.push(text.slice(i));
        return fields;
      }
      fields.push(text.slice(i, comma));
      i = comma + 1;
    }
  }
}

export interface LineParserOptions {
  /** The file name as the user gave it; starts every error message. */
  file: string;
  format: FileFormat;
  /** Field names in order (tsv/csv); overrides the header. */
  columns?: readonly string[];
  /** First line names the columns (tsv/csv; default true). */
  header?: boolean;
}

/**
 * Turns raw lines into column values: splits tsv/csv fields (joining csv records that
 * span lines), reads the header, or parses jsonl objects. Stateful: feed it every line
 * of a file in order, then call `finish()`.
 */
class RowReader<C extends string> {
  private positions: Map<C, number> | undefined;
  /** `positions` as parallel arrays: iterating a Map allocates an entry per column per row. */
  private columnNames: C[] = [];
  private columnIndexes: number[] = [];
  private fieldCount = 0;
  private namedBy: string;
  private awaitingHeader: boolean;
  private pending: { text: string; line: number } | undefined;
  private readonly keyColumns = new Map<string, C | undefined>();

  constructor(
    private readonly options: LineParserOptions,
    private readonly allowed: readonly C[],
    private readonly required: readonly C[],
    private readonly defaults: readonly C[],
  ) {
    const { format, columns, file } = options;
    this.awaitingHeader = format !== 'jsonl' && options.header !== false;
    this.namedBy = columns ? '--columns' : 'the default columns';
    if (format === 'jsonl') {
      if (columns) {
        throw new GraftError('BAD_INPUT', `--columns does not apply to jsonl (${file}); name the keys of each object instead (${allowed.join(', ')})`);
      }
    } else if (columns || options.header === false) {
      const names = columns ?? defaults;
      this.positions = columnPositions(names, allowed, required, { strict: true, where: columns ? '--columns' : 'default columns' });
      this.fieldCount = names.length;
      this.indexColumns();
    }
  }

  private indexColumns(): void {
    this.columnNames = [...this.positions!.keys()];
    this.columnIndexes = [...this.positions!.values()];
  }

  /**
   * Column values of a data line, or undefined for a blank line, the header, or a csv
   * line whose quoted field continues on the next line.
   */
  read(line: string, lineNo: number): { values: Partial<Record<C, unknown>>; line: number } | undefined {
    if (this.options.format === 'jsonl') return isBlank(line) ? undefined : { values: this.readJson(line), line: lineNo };
    let text = line;
    let start = lineNo;
    if (this.pending) {
      text = `${this.pending.text}\n${line}`;
      start = this.pending.line;
      this.pending = undefined;
    } else if (isBlank(line)) return undefined;
    const fields = this.options.format === 'tsv' ? text.split('\t') : splitCsv(text);
    if (fields === undefined) {
      this.pending = { text, line: start };
      return undefined;
    }
    if (this.awaitingHeader) {
      this.awaitingHeader = false;
      if (!this.positions) {
        this.positions = columnPositions(fields, this.allowed, this.required, { strict: false, where: `${this.options.file}:${start}: header` });
        this.fieldCount = fields.length;
        this.namedBy = 'the header';
        this.indexColumns();
      }
      return undefined;
    }
    if (fields.length !== this.fieldCount) throw new BadValue(this.fieldCountProblem(fields.length));
    const values: Partial<Record<C, unknown>> = {};
    for (let c = 0; c < this.columnNames.length; c++) values[this.columnNames[c]!] = fields[this.columnIndexes[c]!];
    return { values, line: start };
  }

  /** Throws when the file ended inside a quoted csv field. */
  finish(): void {
    if (this.pending) {
      throw new GraftError(
        'BAD_INPUT',
        `${this.options.file}:${this.pending.line}: a quoted field is never closed; end it with " and write quotes inside it as ""`,
      );
    }
  }

  private fieldCountProblem(found: number): string {
    const names = this.namedBy === 'the header' ? `${this.fieldCount}` : `${this.fieldCount} (${[...this.positions!.keys()].join(',')})`;
    const sep = this.options.format === 'tsv' ? 'tab' : 'comma';
    const fix =
      this.namedBy === 'the header'
        ? `give every line as many ${sep}-separated fields as the header`
        : `pass --columns naming each field in order (_ skips one), e.g. --columns ${this.exampleColumns(found)}`;
    const formatHint = found === 1 ? ` (is the file really ${this.options.format}? pass --format)` : '';
    return `${found} field${found === 1 ? '' : 's'} but ${this.namedBy} expect ${names}${formatHint}; ${fix}`;
  }

  /** A plausible `--columns` value for lines of `found` fields: the defaults cut short, or padded with `_`. */
  private exampleColumns(found: number): string {
    const names: string[] = this.defaults.slice(0, Math.max(found, this.required.length));
    while (names.length < found) names.push('_');
    return names.join(',');
  }

  private readJson(line: string): Partial<Record<C, unknown>> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (cause) {
      throw new BadValue(`not valid JSON (${(cause as Error).message}); write one object per line, e.g. {"user":"u1","item":"i1"}`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new BadValue(`${JSON.stringify(parsed)} is not a JSON object; write one object per line, e.g. {"user":"u1","item":"i1"}`);
    }
    const values: Partial<Record<C, unknown>> = {};
    for (const [key, value] of Object.entries(parsed)) {
      let column = this.keyColumns.get(key);
      if (column === undefined && !this.keyColumns.has(key)) {
        column = columnForKey(key, this.allowed);
        this.keyColumns.set(key, column);
      }
      if (column !== undefined) values[column] = value;
    }
    return values;
  }
}

/** Wraps a field problem as `FILE:LINE: problem` (the format every import error has). */
function atLine(file: string, line: number, error: unknown): never {
  if (error instanceof BadValue) throw new GraftError('BAD_INPUT', `${file}:${line}: ${error.message}`);
  throw error;
}

export interface EventLineParserOptions extends LineParserOptions {
  /** Kind of rows without a `kind` column. Default `view`. */
  kind?: EventKind;
  /** Rows without a time get `syntheticTimeBase + lineNo` ms, so line order is time order. */
  syntheticTimeBase: number;
  /** Accept weights <= 0 (see `RecordPolicy.allowNonPositiveWeights`). */
  allowNonPositiveWeights?: boolean;
  /** The clock for "in the future" (default: when the parser is made). */
  now?: number;
}

/**
 * Parses the lines of an events file one by one into `EventRecord`s.
 *
 * @example
 * const p = new EventLineParser({ file: 'x.tsv', format: 'tsv', header: false, syntheticTimeBase: 0 });
 * p.parse('u1\ti1\t2\t2024-01-01T00:00:00Z', 1); // { user: 'u1', item: 'i1', weight: 2, time: ..., kind: 'view' }
 */
export class EventLineParser {
  private readonly rows: RowReader<EventColumn>;
  private readonly policy: RecordPolicy;
  /** For rows whose time the parser made up: any time it makes is fine. */
  private readonly syntheticPolicy: RecordPolicy;

  constructor(private readonly options: EventLineParserOptions) {
    this.rows = new RowReader(options, EVENT_COLUMNS, ['user', 'item'], DEFAULT_EVENT_COLUMNS);
    const now = options.now ?? Date.now();
    this.policy = { allowNonPositiveWeights: options.allowNonPositiveWeights, now, latestTime: now + MAX_FUTURE_MS };
    this.syntheticPolicy = { ...this.policy, latestTime: Number.POSITIVE_INFINITY };
  }

  /** The record on this line, or undefined (blank line, header, csv record continued on the next line). */
  parse(line: string, lineNo: number): EventRecord | undefined {
    let at = lineNo;
    try {
      const row = this.rows.read(line, lineNo);
      if (!row) return undefined;
      at = row.line;
      const v = row.values;
      const record: EventRecord = {
        user: parseId(v.user, 'user'),
        item: parseId(v.item, 'item'),
        weight: v.weight === undefined ? 1 : parseWeight(v.weight),
        time: v.time === undefined ? new Date(this.options.syntheticTimeBase + at) : parseTime(v.time),
        kind: v.kind === undefined ? (this.options.kind ?? 'view') : parseKind(v.kind),
      };
      const problem = eventProblem(record, v.time === undefined ? this.syntheticPolicy : this.policy, v.time);
      if (problem) throw new BadValue(problem);
      return record;
    } catch (error) {
      atLine(this.options.file, at, error);
    }
  }

  finish(): void {
    this.rows.finish();
  }
}

/** Parses the lines of an items file (item, title, tags, features) into `ItemRecord`s. */
export class ItemLineParser {
  private readonly rows: RowReader<ItemColumn>;

  constructor(private readonly options: LineParserOptions) {
    this.rows = new RowReader(options, ITEM_COLUMNS, ['item'], DEFAULT_ITEM_COLUMNS);
  }

  parse(line: string, lineNo: number): ItemRecord | undefined {
    let at = lineNo;
    try {
      const row = this.rows.read(line, lineNo);
      if (!row) return undefined;
      at = row.line;
      const v = row.values;
      const record: ItemRecord = { item: parseId(v.item, 'item') };
      if (v.title !== undefined) record.title = parseTitle(v.title);
      if (v.tags !== undefined) record.tags = parseTags(v.tags);
      if (v.features !== undefined) {
        const features = parseFeatures(v.features);
        if (features !== undefined) record.features = features;
      }
      const problem = itemProblem(record);
      if (problem) throw new BadValue(problem);
      return record;
    } catch (error) {
      atLine(this.options.file, at, error);
    }
  }

  finish(): void {
    this.rows.finish();
  }
}
