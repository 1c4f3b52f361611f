/**
 * A domain's items in memory, as serving needs them: ids, external ids and tags, with tags
 * interned to small integers (CSR rows) so that a filter is a few array reads per candidate.
 * Positions 0..size-1 follow `items.id` ascending.
 */
export class ItemCatalogue {
  readonly size: number;
  /** `items.id` per position, ascending. */
  readonly itemIds: Int32Array;
  readonly externalIds: readonly string[];
  /** Title per position (null when the catalogue has none). */
  readonly titles: readonly (string | null)[];
  /** Tag ids of position p: tagIds[tagOffsets[p] .. tagOffsets[p + 1]). */
  private readonly tagOffsets: Int32Array;
  private readonly tagIds: Int32Array;
  private readonly tagIndex: Map<string, number>;
  private readonly byExternalId: Map<string, number>;
  private readonly tagNames: string[];

  private constructor(itemIds: Int32Array, externalIds: string[], titles: (string | null)[], tagOffsets: Int32Array, tagIds: Int32Array, tagIndex: Map<string, number>) {
    this.size = itemIds.length;
    this.itemIds = itemIds;
    this.externalIds = externalIds;
    this.titles = titles;
    this.tagNames = [...tagIndex.keys()];
    this.tagOffsets = tagOffsets;
    this.tagIds = tagIds;
    this.tagIndex = tagIndex;
    this.byExternalId = new Map(externalIds.map((id, p) => [id, p]));
  }

  /**
   * @param rows items of one domain, any order (sorted here by id)
   *
   * @example
   * const catalogue = ItemCatalogue.fromRows([{ id: 7, externalId: 'ball', tags: ['football'] }]);
   */
  static fromRows(rows: ReadonlyArray<{ id: number; externalId: string; title?: string | null; tags: readonly string[] }>): ItemCatalogue {
    const sorted = [...rows].sort((a, b) => a.id - b.id);
    const tagIndex = new Map<string, number>();
    const offsets = new Int32Array(sorted.length + 1);
    const ids: number[] = [];
    sorted.forEach((row, p) => {
      for (const tag of new Set(row.tags)) {
        let id = tagIndex.get(tag);
        if (id === undefined) tagIndex.set(tag, (id = tagIndex.size));
        ids.push(id);
      }
      offsets[p + 1] = ids.length;
    });
    return new ItemCatalogue(
      Int32Array.from(sorted, (r) => r.id),
      sorted.map((r) => r.externalId),
      sorted.map((r) => r.title ?? null),
      offsets,
      Int32Array.from(ids),
      tagIndex,
    );
  }

  /** The tags of position p (distinct, in catalogue order). */
  tagsOf(position: number): string[] {
    const out: string[] = [];
    for (let t = this.tagOffsets[position]!; t < this.tagOffsets[position + 1]!; t++) out.push(this.tagNames[this.tagIds[t]!]!);
    return out;
  }

  /** Number of distinct tags. */
  get tagCount(): number {
    return this.tagIndex.size;
  }

  /** Position of an `items.id`, or -1 (binary search: no map of a million numbers). */
  positionOfItem(itemId: number): number {
    let lo = 0;
    let hi = this.size - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = this.itemIds[mid]!;
      if (v === itemId) return mid;
      if (v < itemId) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** Position of an external item id, or -1. */
  positionOfExternalId(externalId: string): number {
    return this.byExternalId.get(externalId) ?? -1;
  }

  /** A mask over tag ids with the given tags set (unknown tags are skipped); null when none is known. */
  tagMask(tags: readonly string[]): Uint8Array | null {
    const mask = new Uint8Array(this.tagIndex.size);
    let any = false;
    for (const tag of tags) {
      const id = this.tagIndex.get(tag);
      if (id !== undefined) {
        mask[id] = 1;
        any = true;
      }
    }
    return any ? mask : null;
  }

  /** Whether the item at `position` has a tag set in `mask`. */
  hasTagIn(position: number, mask: Uint8Array): boolean {
    for (let t = this.tagOffsets[position]!; t < this.tagOffsets[position + 1]!; t++) if (mask[this.tagIds[t]!] === 1) return true;
    return false;
  }
}
