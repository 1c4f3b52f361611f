/**
 * Regroups batches of any size into batches of exactly `size` rows (the last may be shorter),
 * so a caller can hand over one row at a time or a million at once.
 *
 * @example
 * for await (const batch of rebatch([[1, 2, 3], [4]], 2)) console.log(batch); // [1,2] [3,4]
 */
export async function* rebatch<T>(batches: AsyncIterable<T[]> | Iterable<T[]>, size: number): AsyncGenerator<T[]> {
  let pending: T[] = [];
  for await (const batch of batches) {
    // Pass right-sized batches through untouched: the file reader already produces them.
    if (pending.length === 0 && batch.length === size) {
      yield batch;
      continue;
    }
    let start = 0;
    while (start < batch.length) {
      const take = Math.min(size - pending.length, batch.length - start);
      for (let i = 0; i < take; i++) pending.push(batch[start + i]!);
      start += take;
      if (pending.length === size) {
        yield pending;
        pending = [];
      }
    }
  }
  if (pending.length > 0) yield pending;
}
