/**
 * Partial top-K selection: a K-sized min-heap, so ranking 41k items costs ~41k
 * comparisons instead of a sort. Ties go to the lower item index, so the list is
 * deterministic whatever order items are offered in.
 *
 * @example
 * const top = new TopK(10);
 * for (let i = 0; i < scores.length; i++) top.offer(i, scores[i]);
 * top.items(); // best first
 */
export class TopK {
  private readonly heapItems: Int32Array;
  private readonly heapScores: Float64Array;
  private count = 0;

  constructor(readonly capacity: number) {
    this.heapItems = new Int32Array(capacity);
    this.heapScores = new Float64Array(capacity);
  }

  /** Empties the heap for the next user (no allocation). */
  clear(): void {
    this.count = 0;
  }

  get size(): number {
    return this.count;
  }

  /** Scores below this cannot enter: a cheap pre-check before `offer` in hot loops. */
  get floor(): number {
    return this.count < this.capacity ? -Infinity : this.heapScores[0]!;
  }

  /** Offers an item; NaN scores are never kept. */
  offer(item: number, score: number): void {
    if (Number.isNaN(score) || this.capacity === 0) return;
    if (this.count < this.capacity) {
      let pos = this.count++;
      // sift up: parent must be worse than child
      while (pos > 0) {
        const parent = (pos - 1) >> 1;
        if (!this.worse(item, score, this.heapItems[parent]!, this.heapScores[parent]!)) break;
        this.heapItems[pos] = this.heapItems[parent]!;
        this.heapScores[pos] = this.heapScores[parent]!;
        pos = parent;
      }
      this.heapItems[pos] = item;
      this.heapScores[pos] = score;
      return;
    }
    if (!this.worse(this.heapItems[0]!, this.heapScores[0]!, item, score)) return;
    this.replaceRoot(item, score);
  }

  /** Kept items, best first. */
  items(): Int32Array {
    const order = Array.from({ length: this.count }, (_, n) => n);
    order.sort((a, b) => {
      const sa = this.heapScores[a]!;
      const sb = this.heapScores[b]!;
      return sb - sa || this.heapItems[a]! - this.heapItems[b]!;
    });
    return Int32Array.from(order, (n) => this.heapItems[n]!);
  }

  /** Is (ia, sa) ranked below (ib, sb)? */
  private worse(ia: number, sa: number, ib: number, sb: number): boolean {
    return sa < sb || (sa === sb && ia > ib);
  }

  private replaceRoot(item: number, score: number): void {
    let pos = 0;
    const n = this.count;
    for (;;) {
      const left = 2 * pos + 1;
      if (left >= n) break;
      let child = left;
      const right = left + 1;
      if (right < n && this.worse(this.heapItems[right]!, this.heapScores[right]!, this.heapItems[left]!, this.heapScores[left]!)) child = right;
      if (!this.worse(this.heapItems[child]!, this.heapScores[child]!, item, score)) break;
      this.heapItems[pos] = this.heapItems[child]!;
      this.heapScores[pos] = this.heapScores[child]!;
      pos = child;
    }
    this.heapItems[pos] = item;
    this.heapScores[pos] = score;
  }
}
