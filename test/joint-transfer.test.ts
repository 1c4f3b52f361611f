import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, expect, it } from 'vitest';
import { seedSynthetic } from '../seeds/seed-database.js';
import { getModel } from '../src/registry/index.js';
import { ALS_MODEL, DEFAULT_EVALUATION, DEFAULT_MODEL, DEFAULT_TRAINING, type ModelSettings } from '../src/workflows/model-settings.js';
import { prepareDomain } from '../src/workflows/prepared-domain.js';
import { prepareTransfer } from '../src/workflows/prepare-transfer.js';
import { pretrain } from '../src/workflows/pretrain.workflow.js';
import { registerTrainedModel } from '../src/workflows/register-trained-model.js';
import type { TrainedModel } from '../src/workflows/trained-model.js';
import { transfer, type TransferSettings } from '../src/workflows/transfer.workflow.js';
import { describeEachStorage } from './support/databases.js';
import { CLI, requireBuild } from './support/job-helpers.js';

const run = promisify(execFile);

const ALS = { ...ALS_MODEL, dim: 16 };
const TRAINING = { ...DEFAULT_TRAINING, epochs: 6, patience: 0 };
const EVALUATION = { ...DEFAULT_EVALUATION, negatives: 199 };
const SPLIT = { kind: 'leave-one-out', mode: 'last' } as const;

/** Every weight of `a` bit-identical to `b`'s of the same name. */
function sameWeights(a: TrainedModel, b: TrainedModel): boolean {
  return a.weights.length === b.weights.length && a.weights.every((w, i) => w.name === b.weights[i]!.name && w.data.length === b.weights[i]!.data.length && w.data.every((v, k) => Object.is(v, b.weights[i]!.data[k])));
}

describeEachStorage('JOINT transfer (source + target events from scratch)', (ctx) => {
  async function pretrainOn(model: ModelSettings, seed: number, training = TRAINING) {
    const prepared = await prepareDomain(ctx.db, 'source', { split: SPLIT, tokenBuckets: model.tokenBuckets });
    const trained = await pretrain(prepared, { model: { ...model, seed }, training, evaluation: EVALUATION });
    return { trained, record: await registerTrainedModel(ctx.db, { domain: 'source', kind: 'PRETRAIN' }, trained) };
  }

  async function transferFrom(sourceModelId: string, settings: Partial<TransferSettings>) {
    const prepared = await prepareTransfer(ctx.db, sourceModelId, 'target', { split: SPLIT, coldStartShare: 0.15, seed: 3 });
    const result = await transfer(prepared, { strategy: 'JOINT', training: TRAINING, evaluation: EVALUATION, seed: 11, ...settings });
    return { ...result, prepared };
  }

  beforeAll(async () => {
    await seedSynthetic(ctx.db, { users: 500, seed: 31, sourceItems: 400, targetItems: 250 });
  });

  it('implicit ALS: reads no source weight (two sources with the same events, different weights, give the same model), learns from the source events, and is registered as JOINT', async () => {
    const a = await pretrainOn(ALS, 5);
    const b = await pretrainOn(ALS, 6);
    expect(sameWeights(a.trained, b.trained)).toBe(false);
    const fromA = await transferFrom(a.record.id, {});
    const fromB = await transferFrom(b.record.id, {});
    expect(sameWeights(fromA.trained, fromB.trained)).toBe(true);
    expect(fromA.report.metrics).toEqual(fromB.report.metrics);

    const { report, prepared } = fromA;
    expect(report.strategy).toBe('JOINT');
    expect(report.start).toBe('scratch');
    expect(report.frozen).toMatch(/^nothing frozen: trained from scratch/);
    expect(report.replayWeight).toBe(0);
    expect(report.sourceEvents!.events).toBeGreaterThan(1000);
    expect(report.sourceEvents!.events).toBeLessThanOrEqual(prepared.source.events.users.length);
    expect(report.sourceEvents!).toMatchObject({ weight: 1, perEpoch: report.sourceEvents!.events });
    // No reference row for JOINT itself.
    expect(report.joint).toBeUndefined();
    // The source events are all that places users with no target history (from scratch, without them their
    // rows would stay random: HR@10 near 10 / 200 = 0.05). Margins stated: above 0.25 on that stratum, and
    // the overall gain over the same-budget target-only baseline with its interval above 0.
    const cold = report.strata.find((s) => s.label === '0')!;
    expect(cold.users).toBe(prepared.coldStartTestUsers);
    expect(cold.transferred['hr@10']!).toBeGreaterThan(0.25);
    expect(report.gain['hr@10']!.ci95[0]).toBeGreaterThan(0);

    const record = await registerTrainedModel(
      ctx.db,
      { domain: 'target', kind: 'TRANSFER', strategy: 'JOINT', parentModelId: a.record.id, transferReport: report as never, negativeTransfer: report.negativeTransfer },
      fromA.trained,
    );
    const stored = await getModel(ctx.db.db, record.id);
    expect(stored.strategy).toBe('JOINT');
    expect((stored.transferReport as { start: string }).start).toBe('scratch');
  });

  it('softmax towers: the same model whatever the source weights, fitted through the objective', async () => {
    if (ctx.kind === 'postgres') return; // storage-independent computation (the first test covers both storages)
    // The row start given: left out, each source would choose its own on its carve, and the two would differ in settings, not only weights.
    const model = { ...DEFAULT_MODEL, dim: 16, layers: [16], rowInit: 'implicit-als' as const };
    // One epoch is enough for two sources whose weights differ.
    const a = await pretrainOn(model, 5, { ...TRAINING, epochs: 1 });
    const b = await pretrainOn(model, 6, { ...TRAINING, epochs: 1 });
    expect(sameWeights(a.trained, b.trained)).toBe(false);
    const settings = { training: { ...TRAINING, epochs: 2 } };
    const fromA = await transferFrom(a.record.id, settings);
    const fromB = await transferFrom(b.record.id, settings);
    expect(sameWeights(fromA.trained, fromB.trained)).toBe(true);
    expect(fromA.trained.config).toMatchObject({ model: { objective: 'softmax', layers: [16] }, strategy: 'JOINT' });
    // It learns from the source events: margin stated, +0.05 HR@10 over the same-budget target-only baseline.
    expect(fromA.report.metrics['hr@10']!).toBeGreaterThan(fromA.report.baseline['hr@10']! + 0.05);
  });

  it('every grafting transfer carries the JOINT reference: the JOINT run of the same budget, on the same users, with the paired gain; off when asked', async () => {
    const { record } = await pretrainOn(ALS, 5);
    const partial = await transferFrom(record.id, { strategy: 'PARTIAL', freezeLayers: 1, replayWeight: 0.5, replayFraction: 1 });
    const joint = await transferFrom(record.id, {});
    const reference = partial.report.joint!;
    expect(reference.strategy).toBe('JOINT');
    expect(reference.metrics).toEqual(joint.report.metrics);
    for (const metric of ['hr@10', 'ndcg@10']) {
      const gain = reference.gain[metric]!;
      expect(gain.value).toBeCloseTo(partial.report.metrics[metric]! - joint.report.metrics[metric]!, 6);
      expect(gain.ci95[0]).toBeLessThanOrEqual(gain.value);
      expect(gain.ci95[1]).toBeGreaterThanOrEqual(gain.value);
    }
    // The guard is unchanged by the reference: it still compares with the baseline and popularity only.
    expect(partial.report.baseline).toEqual(joint.report.baseline);
    expect(partial.report.start).toBe('pretrained');
    expect(partial.report.sourceEvents).toMatchObject({ weight: 0.5 });

    const off = await transferFrom(record.id, { strategy: 'PARTIAL', freezeLayers: 1, replayWeight: 0.5, replayFraction: 1, jointReference: false });
    expect(off.report.joint).toBeUndefined();
    expect(off.report.metrics).toEqual(partial.report.metrics);
  });

  it('graft transfer --strategy joint: trains JOINT and says so; refuses --replay-weight with it; a grafting transfer prints its JOINT reference', async () => {
    if (ctx.kind === 'pglite') return; // the CLI is another process: it needs the shared Postgres database
    requireBuild();
    const { record } = await pretrainOn(ALS, 5);
    const env: NodeJS.ProcessEnv = { ...process.env, GRAFT_LOG_LEVEL: 'silent', DATABASE_URL: ctx.db.url! };
    const graft = (args: string[]) =>
      run(process.execPath, [CLI, 'transfer', '--from', record.id, '--to', 'target', '--epochs', '2', '--negatives', '99', ...args], { env }).then(
        (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
    const joint = await graft(['--strategy', 'joint', '--json']);
    expect(joint.code, joint.stderr).toBe(0);
    const out = JSON.parse(joint.stdout) as { model: string; strategy: string; start: string; sourceEvents: { events: number; weight: number }; joint?: unknown };
    expect(out).toMatchObject({ strategy: 'JOINT', start: 'scratch', sourceEvents: { weight: 1 } });
    expect(out.sourceEvents.events).toBeGreaterThan(0);
    expect(out.joint).toBeUndefined();
    expect((await getModel(ctx.db.db, out.model)).strategy).toBe('JOINT');

    const refused = await graft(['--strategy', 'joint', '--replay-weight', '0.5']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/replayWeight = 0.5 applies to strategy FEATURE_EXTRACTION or PARTIAL or FULL only/);

    const partial = await graft(['--strategy', 'partial']);
    expect(partial.code, partial.stderr).toBe(0);
    expect(partial.stderr).toMatch(/JOINT reference \(from scratch on source \+ target events, same budget/);
    expect(partial.stderr).toMatch(/hr@10 +\d\.\d{4} +gain over JOINT [+-]\d\.\d{4} \[/);
    const off = await graft(['--strategy', 'partial', '--no-joint-reference', '--json']);
    expect((JSON.parse(off.stdout) as { joint?: unknown }).joint).toBeUndefined();
  }, 180_000);
});
