/**
 * The one top-K selection (candidate indexes, evaluation, explorer): keeps the k best
 * (row, score) pairs seen so far in a min-heap, so ranking 41k items costs ~41k comparisons
 * instead of a sort. The root is the worst kept pair, so a candidate is compared with one
 * number (`floor`) before any heap work. Ties on score go to the lower row, so every caller
 * orders equal scores the same way whatever order rows are offered in; NaN is never kept.
 *
 * @example
 * const top = new TopKHeap(20);
 * for (let row = 0; row < n; row++) if (scores[row] > top.floor || !top.full) top.offer(row, scores[row]);
 * const { ids, scores } = top.toResult();
 */
export class TopKHeap {
  readonly capacity: number;
  private readonly rows: Int32Array;
  private readonly scores: Float64Array;
  private count = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.rows = new Int32Array(capacity);
    this.scores = new Float64Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  get full(): boolean {
    return this.count === this.capacity;
  }

  /** Score of the worst kept pair once full (a candidate must beat it); -Infinity before. */
  get floor(): number {
    return this.count === this.capacity && this.count > 0 ? this.scores[0] : -Infinity;
  }

  /** Empties the heap for the next query (no allocation). */
  clear(): void {
    this.count = 0;
  }

  /** Would (row, score) be kept? Lets callers run an expensive filter only for rows that would enter. */
  accepts(row: number, score: number): boolean {
    if (this.count < this.capacity) return true;
    if (this.capacity === 0) return false;
    const worst = this.scores[0];
    return score > worst || (score === worst && row < this.rows[0]);
  }

  /** Keeps (row, score) if it is among the best `capacity` so far; returns whether it was kept. */
  offer(row: number, score: number): boolean {
    if (Number.isNaN(score)) return false;
    if (this.count < this.capacity) {
      this.siftUp(this.count++, row, score);
      return true;
    }
    if (!this.accepts(row, score)) return false;
    this.siftDown(0, row, score);
    return true;
  }

  /** The kept rows best first; the heap is left as it is. */
  items(): Int32Array {
    const order = Array.from({ length: this.count }, (_, n) => n);
    order.sort((a, b) => this.scores[b]! - this.scores[a]! || this.rows[a]! - this.rows[b]!);
    return Int32Array.from(order, (n) => this.rows[n]!);
  }

  /** The kept pairs best first (scores as float32); empties the heap. */
  toResult(): { ids: Int32Array; scores: Float32Array } {
    const n = this.count;
    const ids = new Int32Array(n);
    const scores = new Float32Array(n);
    for (let i = n - 1; i >= 0; i--) {
      ids[i] = this.rows[0];
      scores[i] = this.scores[0];
      const last = --this.count;
      if (last > 0) this.siftDown(0, this.rows[last], this.scores[last]);
    }
    return { ids, scores };
  }

  /** a is worse than b: lower score, or the same score on a higher row. */
  private static worse(rowA: number, scoreA: number, rowB: number, scoreB: number): boolean {
    return scoreA < scoreB || (scoreA === scoreB && rowA > rowB);
  }

  private siftUp(at: number, row: number, score: number): void {
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if (!TopKHeap.worse(row, score, this.rows[parent], this.scores[parent])) break;
      this.rows[at] = this.rows[parent];
      this.scores[at] = this.scores[parent];
      at = parent;
    }
    this.rows[at] = row;
    this.scores[at] = score;
  }

  private siftDown(at: number, row: number, score: number): void {
    const n = this.count;
    for (;;) {
      const left = 2 * at + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      if (right < n && TopKHeap.worse(this.rows[right], this.scores[right], this.rows[left], this.scores[left])) child = right;
      if (!TopKHeap.worse(this.rows[child], this.scores[child], row, score)) break;
      this.rows[at] = this.rows[child];
      this.scores[at] = this.scores[child];
      at = child;
    }
    this.rows[at] = row;
    this.scores[at] = score;
  }
}
