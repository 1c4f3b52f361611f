import { describe, expect, it } from 'vitest';
import { createRng } from '../dataset/random.js';
import { EmbeddingTable } from './embedding-table.js';
import { Tower } from './tower.js';

function userTower(options: { idInput?: boolean } = {}) {
  const idTable = new EmbeddingTable({ rows: 4, dim: 2, seed: 1 });
  const historyTable = new EmbeddingTable({ rows: 3, dim: 2, seed: 2 });
  const tower = new Tower({ name: 'user', idTable, historyTable, layers: [2], rng: createRng(3, { resumable: true }), ...options });
  tower.setHistories({ offsets: Int32Array.of(0, 1, 2, 3, 3), ids: Int32Array.of(0, 1, 2) });
  return { tower, idTable, historyTable };
}

const ids = Int32Array.from({ length: 64 }, (_, i) => i % 4);

describe('Tower', () => {
  it('user ID dropout: a dropped row enters as zeros and gets no gradient; a kept row and its gradient are scaled by 1 / (1 - p)', () => {
    const { tower, idTable } = userTower();
    const input = tower.fillInput(ids, 0, createRng(7, { resumable: true }), undefined, 0, 0.75);
    const width = tower.inputDim;
    const kept: boolean[] = [];
    ids.forEach((id, i) => {
      const part = Array.from(input.subarray(i * width, i * width + 2));
      const row = Array.from(idTable.weights.subarray(id * 2, id * 2 + 2));
      const isKept = part.some((v) => v !== 0);
      kept.push(isKept);
      part.forEach((v, k) => expect(v).toBeCloseTo(isKept ? 4 * row[k] : 0, 6));
    });
    // About a quarter kept, and the same draw for the same seed.
    expect(kept.filter(Boolean).length).toBeGreaterThan(4);
    expect(kept.filter(Boolean).length).toBeLessThan(32);
    const again = userTower().tower.fillInput(ids, 0, createRng(7, { resumable: true }), undefined, 0, 0.75);
    expect(again).toEqual(input);

    tower.accumulateGradients(ids, new Float32Array(ids.length * width).fill(1), 0.5);
    const pending = idTable.pendingGradients();
    for (let row = 0; row < 4; row++) {
      const keptExamples = ids.filter((id, i) => id === row && kept[i]).length;
      const at = Array.from(pending.ids).indexOf(row);
      if (keptExamples === 0) expect(at).toBe(-1);
      else expect(pending.grads[at * 2]).toBeCloseTo(keptExamples * 4 * 0.5, 5);
    }
    tower.dispose();
  });

  it('without ID dropout (or at inference, no generator) the rows enter as they are', () => {
    const { tower, idTable } = userTower();
    for (const input of [tower.fillInput(ids, 0, createRng(7, { resumable: true })), tower.fillInput(ids, 0, undefined, undefined, 0, 0.75)]) {
      ids.forEach((id, i) => expect(Array.from(input.subarray(i * tower.inputDim, i * tower.inputDim + 2))).toEqual(Array.from(idTable.weights.subarray(id * 2, id * 2 + 2))));
    }
    tower.dispose();
  });

  it('without its ID row: zeros in its place, no gradient to the table, and a tower with no other input is refused', () => {
    const { tower, idTable } = userTower({ idInput: false });
    const input = tower.fillInput(ids, 0);
    ids.forEach((_, i) => expect(Array.from(input.subarray(i * tower.inputDim, i * tower.inputDim + 2))).toEqual([0, 0]));
    tower.accumulateGradients(ids, new Float32Array(ids.length * tower.inputDim).fill(1), 1);
    expect(idTable.pendingGradients().ids.length).toBe(0);
    expect(() => new Tower({ name: 'user', idTable, layers: [2], idInput: false, rng: createRng(1, { resumable: true }) })).toThrow(/no input left/);
    tower.dispose();
  });
});
