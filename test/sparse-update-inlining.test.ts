import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = (path: string) => new URL(`../dist/src/${path}`, import.meta.url).href;

/**
 * Trains a small model with tags in a fresh Node process, has TurboFan optimize
 * `TwoTowerModel.applyRowGradients` (`%OptimizeFunctionOnNextCall`, as V8 does by itself after
 * some hundred steps of the default model) and returns V8's inlining trace of that process.
 */
function inliningTrace(): string {
  const script = `
    const { initBackend } = await import(${JSON.stringify(dist('model/backend.js'))});
    const { TwoTowerModel } = await import(${JSON.stringify(dist('model/two-tower.model.js'))});
    await initBackend({ prefer: 'cpu' });
    const itemTokens = { offsets: Int32Array.from({ length: 41 }, (_, i) => 2 * i), ids: Int32Array.from({ length: 80 }, (_, i) => (7 * i) % 13) };
    const model = TwoTowerModel.create({ users: 50, items: 40, dim: 8, layers: [8], tokenBuckets: 13, seed: 1 }, { itemTokens });
    model.setItemFrequencies(new Float32Array(40).fill(1));
    const batch = (s) => ({ users: Int32Array.from({ length: 16 }, (_, i) => (s * 16 + i) % 50), items: Int32Array.from({ length: 16 }, (_, i) => (s * 7 + 3 * i) % 40) });
    const proto = TwoTowerModel.prototype;
    for (let s = 0; s < 80; s++) model.trainStep(batch(s), 0.01);
    %OptimizeFunctionOnNextCall(proto.applyRowGradients);
    for (let s = 80; s < 82; s++) model.trainStep(batch(s), 0.01);
    model.dispose();
  `;
  return execFileSync(process.execPath, ['--allow-natives-syntax', '--trace-turbo-inlining', '--input-type=module', '-e', script], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
}

// Runs on the built package (npm test builds first): V8 flags need a plain Node process.
describe('the sparse update under TurboFan (issue 20)', () => {
  it('inlines the tables\' lazy Adam update into applyRowGradients outside any try-block (for-of), where it ran 4-5x slower', () => {
    const lines = inliningTrace()
      .split('\n')
      .filter((line) => /SharedFunctionInfo (applyAccumulated|updateRow)>\} into .*SharedFunctionInfo applyRowGradients>\}/.test(line));
    // The update is inlined (else this test would check nothing) ...
    expect(lines.some((line) => line.includes('applyAccumulated>}'))).toBe(true);
    expect(lines.some((line) => line.includes('updateRow>}'))).toBe(true);
    // ... and not inside the implicit try/finally of a for-of or an array destructuring.
    expect(lines.filter((line) => line.includes('inside try-block'))).toEqual([]);
  });
});
