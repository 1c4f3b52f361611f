/**
 * Postgres array literals built by hand. `pg` turns a JS array parameter into a literal
 * by quoting every element one by one, which costs more than the insert itself at
 * 10k-row batches; a prebuilt literal cast in SQL (`$1::int[]`) is the same value,
 * and PGlite accepts it too.
 *
 * @example
 * sql`select * from unnest(${numberArrayLiteral([1, 2])}::int[])`
 */
export function numberArrayLiteral(values: ArrayLike<number>): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ',';
    out += values[i];
  }
  return out + '}';
}

/** `{"a","b \"quoted\""}`: every element quoted, so commas, braces and spaces survive. */
export function textArrayLiteral(values: readonly string[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ',';
    const v = values[i]!;
    out += NEEDS_ESCAPE.test(v) ? `"${v.replace(ESCAPE, '\\$&')}"` : `"${v}"`;
  }
  return out + '}';
}

const NEEDS_ESCAPE = /["\\]/;
const ESCAPE = /["\\]/g;
