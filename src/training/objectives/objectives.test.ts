import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { scoringOf } from '../../model/objective.js';
import { TRAINING_OBJECTIVES } from '../../model/training-objective.js';
import { objectiveNamed } from './index.js';

const SRC = fileURLToPath(new URL('../../', import.meta.url));
/** The objective modules: the only places an objective's name may decide behaviour. */
const OBJECTIVE_MODULES = ['model/objective.ts', 'model/training-objective.ts', 'training/objectives/'];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') && !path.endsWith('.test.ts') ? [path] : [];
  });
}

describe('training objectives', () => {
  it('decide behaviour by their traits: no objective-name comparison outside the objective modules', () => {
    const names = TRAINING_OBJECTIVES.map((n) => n.replace('-', '\\-')).join('|');
    const branch = new RegExp(`objective\\s*[!=]==|[!=]==\\s*['"](${names})['"]|['"](${names})['"]\\s*[!=]==|case\\s+['"](${names})['"]`);
    const offending: string[] = [];
    for (const file of sourceFiles(SRC)) {
      const rel = relative(SRC, file);
      if (OBJECTIVE_MODULES.some((m) => rel === m || rel.startsWith(m))) continue;
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (branch.test(line)) offending.push(`src/${rel}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(offending).toEqual([]);
  });

  it('are picked by name from one registry, each with its scoring, layers and fit', () => {
    const softmax = objectiveNamed('softmax');
    const als = objectiveNamed('implicit-als');
    expect([softmax.scoring, softmax.layers, softmax.gradientSteps, softmax.trainsOnValidation]).toEqual(['cosine', 'towers', true, false]);
    expect([als.scoring, als.layers, als.gradientSteps, als.trainsOnValidation]).toEqual(['inner-product', 'id-rows', false, true]);
    expect(als.ownSettings).toEqual(['alsAlpha', 'alsRegularization', 'alsCgSteps']);
    expect(() => objectiveNamed('svd')).toThrow(/objective = "svd" is unknown; use softmax or implicit-als or hybrid/);
    expect(() => als.check({ layers: [8], userHistory: false, itemBias: false, alsAlpha: 40, alsRegularization: 0.1, alsCgSteps: 3, dim: 8, alsSweeps: 10 })).toThrow(/config.layers = \[8\] with objective implicit-als/);
    expect(() => softmax.check({ layers: [8], userHistory: true, itemBias: true, alsAlpha: 40, alsRegularization: 0.1, alsCgSteps: 3, dim: 8, alsSweeps: 10 })).not.toThrow();
  });

  it('hybrid: ALS-solved ID rows under a residual MLP scored by inner product; refuses configs it cannot train', () => {
    const hybrid = objectiveNamed('hybrid');
    expect([hybrid.scoring, hybrid.layers, hybrid.gradientSteps, hybrid.alsRows, hybrid.residual, hybrid.trainsOnValidation, hybrid.refitsOnValidation]).toEqual(['inner-product', 'towers', true, true, true, false, true]);
    expect([objectiveNamed('softmax').refitsOnValidation, objectiveNamed('implicit-als').refitsOnValidation]).toEqual([false, false]);
    expect(hybrid.ownSettings).toEqual(['alsAlpha', 'alsRegularization', 'alsCgSteps', 'alsSweeps', 'topLearningRate']);
    const ok = { dim: 16, layers: [32, 16], userHistory: true, itemBias: false, alsAlpha: 40, alsRegularization: 0.1, alsCgSteps: 3, alsSweeps: 10 };
    expect(() => hybrid.check(ok)).not.toThrow();
    expect(() => hybrid.check({ ...ok, layers: [] })).toThrow(/config.layers = \[\] with objective hybrid; .* e.g. \[32, 16\]/);
    expect(() => hybrid.check({ ...ok, layers: [32, 8] })).toThrow(/config.layers = \[32, 8\] with objective hybrid ends at 8, .*end the layers at dim \(e.g. \[32, 16\]\)/);
    expect(() => hybrid.check({ ...ok, itemBias: true })).toThrow(/config.itemBias with objective hybrid/);
    expect(() => hybrid.check({ ...ok, alsAlpha: -1 })).toThrow(/config.alsAlpha = -1 with objective hybrid/);
    expect(() => hybrid.check({ ...ok, alsRegularization: 0 })).toThrow(/config.alsRegularization = 0/);
    expect(() => hybrid.check({ ...ok, alsSweeps: 0 })).toThrow(/config.alsSweeps = 0; it must be an integer >= 1/);
    expect(() => hybrid.check({ ...ok, popularityWeight: 0.2 })).not.toThrow();
    expect(() => hybrid.check({ ...ok, popularityWeight: -0.2 })).toThrow(/config.popularityWeight = -0.2 with objective hybrid; it must be a finite number >= 0/);
    expect(() => objectiveNamed('softmax').check({ ...ok, layers: [16], popularityWeight: 0.2 })).not.toThrow();
    expect(() => objectiveNamed('softmax').check({ ...ok, layers: [16], popularityWeight: 0.2, itemBias: true })).toThrow(/config.popularityWeight = 0.2 with config.itemBias; .*turn itemBias off, or leave popularityWeight at 0/);
    expect(() => objectiveNamed('softmax').check({ ...ok, layers: [16], popularityWeight: Number.NaN })).toThrow(/config.popularityWeight = NaN with objective softmax; it must be a finite number >= 0/);
    expect(objectiveNamed('softmax').alsRows).toBe(false);
    expect(objectiveNamed('implicit-als').alsRows).toBe(true);
    expect(scoringOf({ model: { objective: 'hybrid' } })).toBe('inner-product');
  });

  it('give a stored model its scoring (item bias scores by inner product whatever the objective)', () => {
    expect(scoringOf({ model: { objective: 'implicit-als' } })).toBe('inner-product');
    expect(scoringOf({ model: { objective: 'softmax' } })).toBe('cosine');
    expect(scoringOf({ model: {} })).toBe('cosine');
    expect(scoringOf({ model: { itemBias: true } })).toBe('inner-product');
    // The popularity term is a bias column too: a cosine softmax model with it is served by inner product.
    expect(scoringOf({ model: { objective: 'softmax', scoring: 'cosine', popularityWeight: 0.1 } })).toBe('inner-product');
    expect(scoringOf({ model: { objective: 'softmax', scoring: 'cosine', popularityWeight: 0 } })).toBe('cosine');
    // The softmax may choose (config.scoring); an objective with one scoring ignores a stored softmax default.
    expect(scoringOf({ model: { objective: 'softmax', scoring: 'inner-product' } })).toBe('inner-product');
    expect(scoringOf({ model: { scoring: 'cosine' } })).toBe('cosine');
    expect(scoringOf({ model: { objective: 'implicit-als', scoring: 'cosine' } })).toBe('inner-product');
    expect(scoringOf(null)).toBe('cosine');
  });
});
