import type { EmbeddingTable } from '../../model/embedding-table.js';
import type { Tower } from '../../model/tower.js';

/**
 * What a fit stage freezes for its while (the hybrid's top, the softmax's item-row refinement):
 * each call remembers how to put back what it changed, and `restore` puts everything back, last
 * change first, so rows and layers the caller had frozen stay frozen.
 *
 * @example
 * const held = new HeldState();
 * held.freezeRows(model.userTable);
 * held.setTrainable(model.tower('user'), 0, false);
 * try { await train(model, data, options); } finally { held.restore(); }
 */
export class HeldState {
  private readonly undo: Array<() => void> = [];

  /** Freezes every row of `table` (none without a table). */
  freezeRows(table: EmbeddingTable | undefined): void {
    if (!table) return;
    const before = table.frozen.slice();
    table.freezeRows();
    this.undo.push(() => table.frozen.set(before));
  }

  /** Sets layer `layer` of `tower` trainable or frozen. */
  setTrainable(tower: Tower, layer: number, trainable: boolean): void {
    const before = tower.isTrainable(layer);
    tower.setTrainable(layer, trainable);
    this.undo.push(() => tower.setTrainable(layer, before));
  }

  restore(): void {
    while (this.undo.length > 0) this.undo.pop()!();
  }
}
