import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultOf } from '../src/workflows/settings/index.js';
import { CLI } from './support/job-helpers.js';
import { freshDatabase, type TestDatabase } from './support/databases.js';

/** `graft ...` against the test database; stdout, stderr and the exit code. */
function graft(db: TestDatabase, ...args: string[]) {
  const run = spawnSync(process.execPath, [CLI, ...args], { env: { ...process.env, DATABASE_URL: db.url }, encoding: 'utf8' });
  return { stdout: run.stdout, stderr: run.stderr, code: run.status };
}

describe('graft transfer and graft train choose their settings by validation (--strategy auto, --auto)', () => {
  let db: TestDatabase;
  let source: string;
  beforeAll(async () => {
    db = await freshDatabase('postgres');
    expect(graft(db, 'seed', '--synthetic', '--users', '500', '--seed', '7').code).toBe(0);
    const trained = graft(db, 'train', '--domain', 'source', '--objective', 'implicit-als', '--dim', '16', '--epochs', '4', '--json');
    expect(trained.code, trained.stderr).toBe(0);
    source = JSON.parse(trained.stdout).model;
  });
  afterAll(async () => db?.dispose());

  it('transfers with AUTO when no strategy is given, prints every trial and registers the chosen strategy', () => {
    const run = graft(db, 'transfer', '--from', source, '--to', 'target', '--budget', '3', '--json');
    expect(run.code, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout);
    expect(out.chosenBy).toBe('AUTO');
    // Registered as the verdict says: a transfer as one, "no transfer" as a single-domain model (both covered in auto-transfer.test.ts).
    const transferred = out.search.decision === 'transfer';
    expect(transferred ? ['FEATURE_EXTRACTION', 'PARTIAL', 'FULL', 'JOINT'] : ['NONE']).toContain(out.strategy);
    expect(out).toMatchObject(transferred ? { outcome: 'TRANSFER', kind: 'TRANSFER' } : { outcome: 'TARGET_ONLY', kind: 'PRETRAIN' });
    expect(out.search.budget).toBe('3');
    // 3 configurations and 1 promotion, for the transfer and for the baseline.
    expect(out.search.trials.length).toBe(8);
    expect(run.stderr).toMatch(/trial transfer #0 rung 0 \(2 epochs\): FEATURE_EXTRACTION/);
    const models = graft(db, 'models', '--domain', 'target', '--json');
    expect(models.stdout).toContain(out.model);

    const text = graft(db, 'transfer', '--from', source, '--to', 'target', '--strategy', 'auto', '--budget', '2');
    expect(text.code, text.stderr).toBe(0);
    expect(text.stderr).toMatch(/AUTO: budget 2 per search, eta 3, 3 rungs/);
    expect(text.stderr).toMatch(/chosen: (NO TRANSFER, the target-only target only, |.*; baseline target only)/);
  });

  it('refuses a bad budget, a budget without AUTO and a PARTIAL-only setting with AUTO, naming the fix', () => {
    const bad = graft(db, 'transfer', '--from', source, '--to', 'target', '--budget', 'ten');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/budget "ten" is neither a number of trials .* use e\.g\. --budget 10m/);
    const fixed = graft(db, 'transfer', '--from', source, '--to', 'target', '--strategy', 'full', '--budget', '3');
    expect(fixed.code).not.toBe(0);
    expect(fixed.stderr).toMatch(/--budget applies to --strategy auto only/);
    const freeze = graft(db, 'transfer', '--from', source, '--to', 'target', '--freeze-layers', '2');
    expect(freeze.code).not.toBe(0);
    expect(freeze.stderr).toMatch(/freezeLayers = 2 applies to strategy PARTIAL only/);
    const trainBudget = graft(db, 'train', '--domain', 'target', '--budget', '3');
    expect(trainBudget.stderr).toMatch(/--budget applies to --auto only/);
  });

  it('train --auto searches the objective\'s settings on one domain and trains the winner', () => {
    const run = graft(db, 'train', '--domain', 'target', '--objective', 'implicit-als', '--dim', '16', '--auto', '--budget', '3', '--json');
    expect(run.code, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout);
    expect(out.search.trials.length).toBe(4);
    expect(out.search.trials.every((t: { search: string }) => t.search === 'train')).toBe(true);
    expect(Object.keys(out.search.trials[1].settings).sort()).toEqual(['alsAlpha', 'alsRegularization', 'popularityWeight']);
    expect(out.metrics['hr@10']).toBeGreaterThan(0);
  });

  it('plain train chooses the softmax towers\' popularity term on the validation carve and says so; a given weight is used as given', () => {
    const run = graft(db, 'train', '--domain', 'target', '--dim', '16', '--layers', '32,16', '--epochs', '2');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/popularity term: (β [0-9.]+, chosen on the validation carve by ndcg@10 \(sampled, 999 negatives\): [0-9.]+ without it, [0-9.]+ with it|none, chosen on the validation carve)/);
    const json = JSON.parse(graft(db, 'train', '--domain', 'target', '--dim', '16', '--layers', '32,16', '--epochs', '2', '--json').stdout);
    expect(json.popularityTerm.beta).toBeGreaterThanOrEqual(0);
    expect(json.popularityTerm.carveWith).toBeGreaterThanOrEqual(json.popularityTerm.carveWithout);
    const given = graft(db, 'train', '--domain', 'target', '--dim', '16', '--layers', '32,16', '--epochs', '2', '--popularity-weight', '0');
    expect(given.code, given.stderr).toBe(0);
    expect(given.stderr).not.toMatch(/popularity term/);
  });

  it('plain train fits the softmax towers by both scorings when --scoring is left out and prints the carve\'s choice; a given scoring is fitted once', () => {
    const run = graft(db, 'train', '--domain', 'source', '--dim', '16', '--layers', '32,16', '--epochs', '2', '--popularity-weight', '0');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/scoring: (cosine|inner-product), chosen on the validation carve by ndcg@10 \(sampled, 999 negatives\) \(fitted each way\): cosine [0-9.]+, inner-product [0-9.]+; --scoring (cosine|inner-product) fits it once/);
    const json = JSON.parse(graft(db, 'train', '--domain', 'source', '--dim', '16', '--layers', '32,16', '--epochs', '2', '--popularity-weight', '0', '--json').stdout);
    expect(json.scoring.carve.map((c: { scoring: string }) => c.scoring)).toEqual(['cosine', 'inner-product']);
    expect(json.scoring.chosen).toBe(json.scoring.gain.ci95[0] > 0 ? 'inner-product' : 'cosine');
    const given = graft(db, 'train', '--domain', 'source', '--dim', '16', '--layers', '32,16', '--epochs', '2', '--popularity-weight', '0', '--scoring', 'inner-product', '--json');
    expect(given.code, given.stderr).toBe(0);
    expect(given.stderr).not.toMatch(/scoring: /);
    expect(JSON.parse(given.stdout)).not.toHaveProperty('scoring');
  });

  it('train --auto without --objective compares the objectives too, each from its defaults, and registers the winner in its own shape', () => {
    const run = graft(db, 'train', '--domain', 'target', '--dim', '16', '--auto', '--budget', '4', '--json');
    expect(run.code, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout);
    const rung0 = out.search.trials.filter((t: { rung: number }) => t.rung === 0);
    const families = [defaultOf('objective'), ...['implicit-als', 'hybrid', 'softmax'].filter((o) => o !== defaultOf('objective'))];
    // Every family from its defaults, then the softmax towers' other scoring (cosine is their default).
    const anchors = rung0.map((t: { settings: { objective: string; scoring?: string } }) => `${t.settings.objective}${t.settings.scoring ? ` ${t.settings.scoring}` : ''}`);
    expect(anchors).toEqual([...families.map((o) => (o === 'softmax' ? 'softmax cosine' : o)), 'softmax inner-product']);
    expect(run.stderr).toMatch(/--auto: searching the objective \(/);
    const winner = out.search.trials.find((t: { label: string }) => t.label.endsWith(out.search.transfer.label)).settings.objective;
    expect(out.search.transfer.label.startsWith(winner)).toBe(true);
  });
});
