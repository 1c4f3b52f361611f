import { GraftError } from '../errors.js';

/** Columns an events file may have; `user` and `item` are required. */
export const EVENT_COLUMNS = ['user', 'item', 'weight', 'time', 'kind'] as const;
export type EventColumn = (typeof EVENT_COLUMNS)[number];

/** Columns an items file may have; `item` is required. */
export const ITEM_COLUMNS = ['item', 'title', 'tags', 'features'] as const;
export type ItemColumn = (typeof ITEM_COLUMNS)[number];

export const DEFAULT_EVENT_COLUMNS: readonly EventColumn[] = ['user', 'item', 'weight', 'time'];
export const DEFAULT_ITEM_COLUMNS: readonly ItemColumn[] = ['item', 'title', 'tags'];

/** Names a column may go by in a header, `--columns` or a JSON key, after lower-casing and dropping `_`, `-` and spaces. */
const ALIASES: Record<string, EventColumn | ItemColumn> = {
  user: 'user', userid: 'user', uid: 'user', customer: 'user', customerid: 'user', visitor: 'user', visitorid: 'user',
  item: 'item', itemid: 'item', iid: 'item', product: 'item', productid: 'item', sku: 'item', asin: 'item',
  weight: 'weight', rating: 'weight', score: 'weight', value: 'weight',
  time: 'time', timestamp: 'time', ts: 'time', occurredat: 'time', date: 'time', datetime: 'time',
  kind: 'kind', event: 'kind', eventtype: 'kind', type: 'kind', action: 'kind',
  title: 'title', name: 'title',
  tags: 'tags', tag: 'tags', categories: 'tags', category: 'tags',
  features: 'features',
};

/** `--columns` entries that mean "ignore this field". */
const SKIP = new Set(['', '_', '-', 'skip']);

function canonical<C extends string>(name: string, allowed: readonly C[]): C | undefined {
  const known = ALIASES[name.toLowerCase().replace(/[\s_-]/g, '')];
  return known !== undefined && (allowed as readonly string[]).includes(known) ? (known as C) : undefined;
}

/**
 * Field position of each known column: from `--columns` (strict: every name must be known
 * or `_` to skip) or from a header row (lenient: unknown names are ignored).
 *
 * @example
 * columnPositions(['user', 'item', '_', 'time'], EVENT_COLUMNS, ['user', 'item'], { strict: true, where: '--columns' })
 * // Map { user => 0, item => 1, time => 3 }
 */
export function columnPositions<C extends string>(
  names: readonly string[],
  allowed: readonly C[],
  required: readonly C[],
  context: { strict: boolean; where: string },
): Map<C, number> {
  const positions = new Map<C, number>();
  names.forEach((raw, index) => {
    const name = raw.trim();
    if (context.strict && SKIP.has(name)) return;
    const column = canonical(name, allowed);
    if (column === undefined) {
      if (!context.strict) return;
      throw new GraftError(
        'BAD_INPUT',
        `${context.where}: column "${name}" is unknown; use ${allowed.join(', ')}, or _ to skip a field`,
      );
    }
    if (positions.has(column)) {
      throw new GraftError('BAD_INPUT', `${context.where}: column "${column}" is named twice (fields ${positions.get(column)! + 1} and ${index + 1}); name it once`);
    }
    positions.set(column, index);
  });
  for (const column of required) {
    if (!positions.has(column)) {
      const hint = context.strict
        ? `add it to --columns, e.g. --columns ${required.join(',')}`
        : `name it "${column}" in the header, or pass --no-header --columns ${required.join(',')},...`;
      throw new GraftError('BAD_INPUT', `${context.where}: no "${column}" column among ${JSON.stringify(names.join(','))}; ${hint}`);
    }
  }
  return positions;
}

/** The canonical column a JSON key stands for, or undefined for keys the importer ignores. */
export function columnForKey<C extends string>(key: string, allowed: readonly C[]): C | undefined {
  return canonical(key, allowed);
}
