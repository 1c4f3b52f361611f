import { beforeAll, expect, it, vi } from 'vitest';
import { seedSynthetic } from '../seeds/seed-database.js';
import { createRng } from '../src/dataset/random.js';
import { modelObjective } from '../src/model/objective.js';
import type { TrainingObjective } from '../src/model/training-objective.js';
import { getModel } from '../src/registry/index.js';
import { loadWeights } from '../src/registry/artifact-repository.js';
import { TwoTowerModel } from '../src/model/two-tower.model.js';
import type { SearchReport } from '../src/transfer/transfer-report.js';
import { ALS_MODEL, DEFAULT_EVALUATION, DEFAULT_MODEL, DEFAULT_TRAINING } from '../src/workflows/model-settings.js';
import { prepareDomain } from '../src/workflows/prepared-domain.js';
import { prepareTransfer } from '../src/workflows/prepare-transfer.js';
import { pretrain } from '../src/workflows/pretrain.workflow.js';
import { formatTransferReport } from '../src/cli/commands/transfer.command.js';
import { activationDecision } from '../src/jobs/job-handler.js';
import { layeredObjectiveOver, narrowed, POPULARITY_PROFILE, searchTransfer } from '../src/workflows/auto-transfer.js';
import { BLEND_WEIGHTS } from '../src/workflows/blend.js';
import { formatSearch } from '../src/cli/format-metrics.js';
import { transferSearchSpace } from '../src/tuning/search-space.js';
import { transferContext } from '../src/workflows/transfer-candidate.js';
import { registerTrainedModel, registerTransferResult, transferRegistration } from '../src/workflows/register-trained-model.js';
import { UNREGISTERED_SOURCE_ID } from '../src/workflows/retrained-source.js';
import { transfer, type PreparedTransfer, type TransferSettings } from '../src/workflows/transfer.workflow.js';
import { describeEachStorage } from './support/databases.js';

// Each AUTO run trains every objective's trials (ALS, hybrid and softmax towers) twice over: 20-50 s on a loaded 2-core machine.
vi.setConfig({ testTimeout: 180_000 });

const ALS = { ...ALS_MODEL, dim: 16, seed: 5 };
const TRAINING = { ...DEFAULT_TRAINING, epochs: 6, patience: 0 };
const EVALUATION = { ...DEFAULT_EVALUATION, negatives: 199 };
const AUTO: TransferSettings = { strategy: 'AUTO', budget: { kind: 'trials', trials: 4 }, replayWeight: 0.5, replayFraction: 1, training: TRAINING, evaluation: EVALUATION, seed: 11 };

describeEachStorage('AUTO transfer: strategy and settings found on the validation carve', (ctx) => {
  async function pretrainOn(domain: string, model = ALS) {
    const prepared = await prepareDomain(ctx.db, domain, { split: { kind: 'leave-one-out', mode: 'last' }, tokenBuckets: model.tokenBuckets });
    const trained = await pretrain(prepared, { model, training: TRAINING, evaluation: EVALUATION });
    return registerTrainedModel(ctx.db, { domain, kind: 'PRETRAIN' }, trained);
  }
  const prepare = (sourceId: string, target: string) => prepareTransfer(ctx.db, sourceId, target, { split: { kind: 'leave-one-out', mode: 'last' }, coldStartShare: 0.15, seed: 3 });
  const trialKeys = (search: SearchReport) => search.trials.map((t) => [t.search, t.config, t.rung, t.epochs, t.label, t.validation]);

  beforeAll(async () => {
    await seedSynthetic(ctx.db, { users: 700, seed: 21, sourceItems: 500, targetItems: 300 });
    await seedSynthetic(ctx.db, { users: 700, seed: 22, sourceItems: 500, targetItems: 300, independentTarget: true, sourceName: 'other-source', targetName: 'other-target' });
  });

  it('searches both the transfer and the baseline with the same budget, retrains the winners, reports every trial, and is reproducible', async () => {
    const source = await pretrainOn('source');
    const prepared = await prepare(source.id, 'target');
    const trials: unknown[] = [];
    const phases: string[] = [];
    const auto = { ...AUTO, budget: { kind: 'trials' as const, trials: 6 } };
    const first = await transfer(prepared, auto, { onTrial: (t) => trials.push(t), onPhase: (p) => phases.push(p) });
    const search = first.report.search!;
    // A grafting winner also trains the JOINT reference; a JOINT winner has none.
    expect(phases).toEqual(['search', 'transfer', 'baseline', ...(first.report.strategy === 'JOINT' ? [] : ['joint']), 'evaluation']);
    // 6 configurations per search (4 were enough before the popularity term joined the space: on
    // this world popularity beats target-only ALS, the term lifts the tuned baseline, and 4 draws
    // left the transfer's gain over it within the noise). ASHA promotes a configuration while it
    // is in the top third of the trials finished at its rung, always the best, at 3x the sweeps.
    for (const which of ['transfer', 'baseline'] as const) {
      const rows = search.trials.filter((t) => t.search === which);
      const rung0 = rows.filter((t) => t.rung === 0).sort((a, b) => b.validation - a.validation || a.config - b.config);
      const rung1 = rows.filter((t) => t.rung === 1);
      expect(rung0.length).toBe(6);
      expect(rung1.length).toBeGreaterThanOrEqual(2);
      // Each configuration's budget is its objective's first rung (ALS: 2 sweeps; hybrid, softmax: 1 epoch) times 3 per rung.
      const firstRung = (t: (typeof rows)[number]) => modelObjective((t.settings.objective as TrainingObjective | undefined) ?? 'implicit-als').tuned.firstRungEpochs;
      expect(rows.every((t) => t.epochs === firstRung(t) * 3 ** t.rung)).toBe(true);
      expect(rows.filter((t) => t.rung === 2).every((t) => rung1.some((r) => r.config === t.config))).toBe(true);
      expect(rung1.map((t) => t.config)).toContain(rung0[0]!.config);
      // Never the worst two of six.
      for (const t of rung1) expect(rung0.slice(4).map((r) => r.config)).not.toContain(t.config);
    }
    expect(trials).toEqual(search.trials);
    expect(search.trials.filter((t) => t.search === 'baseline').every((t) => t.label.startsWith('target only'))).toBe(true);
    // The baseline's search spans the objectives, from each one's defaults (the source's first).
    expect(search.trials.filter((t) => t.search === 'baseline' && t.rung === 0).slice(0, 3).map((t) => t.settings.objective)).toEqual(['implicit-als', 'hybrid', 'softmax']);
    expect(search.trials.filter((t) => t.search === 'baseline' && t.rung === 0)[1]!.settings).toMatchObject({ alsAlpha: ALS_MODEL.alsAlpha, alsRegularization: ALS_MODEL.alsRegularization, learningRate: TRAINING.learningRate });
    // The transfer's: the source's objective with its strategies, and the ALS rows frozen under a fresh hybrid top (PARTIAL(1)), from its defaults second.
    const transferRung0 = search.trials.filter((t) => t.search === 'transfer' && t.rung === 0);
    expect(transferRung0[1]!.settings).toMatchObject({ strategy: 'PARTIAL', freezeLayers: 1, objective: 'hybrid', alsAlpha: ALS_MODEL.alsAlpha, replayWeight: AUTO.replayWeight });
    expect(search.trials.filter((t) => t.search === 'transfer').every((t) => t.settings.objective === undefined || (t.settings.objective === 'hybrid' && t.settings.strategy === 'PARTIAL' && t.settings.freezeLayers === 1))).toBe(true);
    expect(search.validationUsers).toBeGreaterThan(200);
    // A related source: the transfer's validation gain over the tuned baseline is significant, so AUTO delivers it.
    expect(search.decision).toBe('transfer');
    expect(search.validationGain!.ci95[0]).toBeGreaterThan(0);
    // The chosen strategy is the one reported and retrained, with the winner's sweeps.
    expect(search.transfer.label.startsWith(first.report.strategy === 'PARTIAL' ? `PARTIAL(${first.report.freezeLayers})` : first.report.strategy)).toBe(true);
    // The winner is the best trial of any rung, retrained with that trial's sweeps.
    const bestTransfer = Math.max(...search.trials.filter((t) => t.search === 'transfer').map((t) => t.validation));
    expect(search.transfer.validation).toBe(bestTransfer);
    expect(search.trials.find((t) => t.search === 'transfer' && t.validation === bestTransfer)!.epochs).toBe(search.transfer.epochs);
    // The baseline was retrained as the search's winner says, in its objective's shape.
    expect(first.report.search!.baseline!.label).toMatch(/^target only, (implicit-als|hybrid|softmax), /);
    expect(first.trained.config).toMatchObject({ chosenBy: 'AUTO', budget: '6', training: { epochs: search.transfer.epochs } });
    // Every trial, whatever its objective (none here has a learned item bias), is scored at the popularity term's best weight β on the carve (profiled, not drawn), and the winner is retrained with its β.
    for (const which of ['transfer', 'baseline'] as const) {
      const rows = search.trials.filter((t) => t.search === which);
      expect(rows.length).toBeGreaterThan(0);
      expect(rows.every((t) => POPULARITY_PROFILE.includes(t.settings.popularityWeight as number))).toBe(true);
    }
    const winner = search.trials.find((t) => t.search === 'transfer' && t.label === search.transfer.label)!;
    expect((first.trained.config as { model: { popularityWeight?: number } }).model.popularityWeight ?? 0).toBe(winner.settings.popularityWeight);
    // The guard still compares with a (tuned) baseline on the same test users.
    expect(first.report.gain['hr@10']!.value).toBeGreaterThan(0.05);
    expect(first.report.negativeTransfer).toBe(false);

    const again = await transfer(prepared, auto);
    expect(trialKeys(again.report.search!)).toEqual(trialKeys(search));
    expect(again.report.metrics).toEqual(first.report.metrics);

    const record = await registerTrainedModel(ctx.db, { domain: 'target', kind: 'TRANSFER', strategy: first.report.strategy as 'FULL', parentModelId: source.id, transferReport: first.report as never, negativeTransfer: first.report.negativeTransfer }, first.trained);
    const stored = await getModel(ctx.db.db, record.id);
    expect((stored.transferReport as { search: SearchReport }).search.trials.length).toBe(search.trials.length);
  });

  it('delivers a blend as one implicit-ALS model of both widths, its partner a transfer or a target-only model, registered and reloaded like any model', async () => {
    const source = await pretrainOn('source');
    const prepared = await prepare(source.id, 'target');
    const training = { ...TRAINING, epochs: 4 };
    const full: TransferSettings = { strategy: 'FULL', replayWeight: 0, training, evaluation: EVALUATION, seed: 11, jointReference: false };
    const alone = await transfer(prepared, full);
    for (const partner of [
      { search: 'transfer' as const, strategy: 'JOINT' as const, replayWeight: 0, model: { alsAlpha: 10 }, training },
      { search: 'baseline' as const, replayWeight: 0, model: { alsRegularization: 1 }, training },
    ]) {
      const blend = { weight: 0.5, popularityWeight: 0.1, partner };
      const result = await transfer(prepared, { ...full, blend });
      // dim 16 + 16, and the popularity column.
      expect(result.trained.outputDim).toBe(2 * ALS.dim + 1);
      expect(result.trained.config).toMatchObject({ strategy: 'FULL', blend, model: { objective: 'implicit-als', dim: 2 * ALS.dim, popularityWeight: 0.1 } });
      expect(result.report.frozen).toMatch(/; delivered blended with a second model \(weight 0.5 : 0.5, dim 16 \+ 16\)$/);
      // The same transfer underneath: its first half of each row is the unblended model's, scaled.
      const ratio = result.trained.userVectors[0]! / alone.trained.userVectors[0]!;
      for (const k of [1, 5, 15]) expect(result.trained.userVectors[k]! / alone.trained.userVectors[k]!).toBeCloseTo(ratio, 4);
      expect(result.report.metrics).not.toEqual(alone.report.metrics);
      // The baseline and the guard are the run's, as for any transfer.
      expect(result.report.baseline).toEqual(alone.report.baseline);

      const { record } = await registerTransferResult(ctx.db, { domain: 'target', transferReport: result.report as unknown as Record<string, unknown> }, result, source.id);
      const stored = await getModel(ctx.db.db, record.id);
      expect(stored).toMatchObject({ kind: 'TRANSFER', strategy: 'FULL', parentModelId: source.id });
      const reloaded = TwoTowerModel.fromWeights((stored.config as { model: never }).model, await loadWeights(ctx.db.db, record.id));
      try {
        expect(reloaded.embedUsers()).toEqual(result.trained.userVectors);
        expect(reloaded.embedItems().subarray(0, result.trained.itemVectors.length)).toEqual(result.trained.itemVectors);
      } finally {
        reloaded.dispose();
      }
    }
    // Refused before anything trains: a partner transfer without a strategy, a weight outside [0, 1].
    const partner = { search: 'transfer' as const, replayWeight: 0, model: {}, training };
    await expect(transfer(prepared, { ...full, blend: { weight: 0.5, popularityWeight: 0, partner } })).rejects.toThrow(/settings.blend.partner has search 'transfer' but no strategy; name one/);
    await expect(transfer(prepared, { ...full, blend: { weight: 2, popularityWeight: 0, partner: { ...partner, strategy: 'JOINT' } } })).rejects.toThrow(/settings.blend.weight is 2; it must be between 0 and 1/);
  });

  it('tries blending an implicit-ALS winner with the best trial of each other kind, reports the best blend, and delivers it only on a significant validation gain', async () => {
    const source = await pretrainOn('source');
    const prepared = await prepare(source.id, 'target');
    const result = await transfer(prepared, { ...AUTO, autoCandidates: ['FULL', 'JOINT', 'FEATURE_EXTRACTION'], budget: { kind: 'trials', trials: 6 } });
    const search = result.report.search!;
    expect(search.decision).toBe('transfer');
    const blend = search.blend!;
    // The partner is the best trial of its kind (another strategy's, or the baseline's), at the top rung's budget (18 sweeps):
    // a kind the search did not promote that far is fitted there after the search, as a trial row of its own.
    const partner = search.trials.filter((t) => t.search === blend.partnerSearch && t.label === blend.partner && t.epochs === blend.partnerEpochs);
    expect(partner.length).toBe(1);
    const forBlend = search.trials.filter((t) => t.forBlend);
    expect(forBlend.length).toBeGreaterThan(0);
    for (const t of forBlend) {
      expect(t).toMatchObject({ rung: 2, epochs: 18 });
      // The configuration it refits: the best of its kind at a lower rung.
      expect(search.trials.some((r) => !r.forBlend && r.search === t.search && r.config === t.config && r.epochs < 18)).toBe(true);
    }
    expect(formatSearch(search).filter((l) => l.endsWith('(fitted for the blend, after the search)')).length).toBe(forBlend.length);
    expect(blend.partner).not.toBe(search.transfer.label);
    expect(BLEND_WEIGHTS).toContain(blend.weight);
    expect(POPULARITY_PROFILE).toContain(blend.popularityWeight);
    // Every other kind kept (the baseline's implicit-ALS trials, the other two strategies') at each weight.
    expect(blend.tried).toBe(3 * BLEND_WEIGHTS.length);
    expect(blend.delivered).toBe(blend.validationGain.ci95[0] > 0);
    expect(formatSearch(search).at(-1)).toMatch(new RegExp(`^blend: ${blend.delivered ? 'delivered' : 'not delivered'}, the transfer at weight ${blend.weight} with `));
    const config = result.trained.config as { model: { dim: number }; blend?: unknown };
    expect(config.model.dim).toBe(blend.delivered ? 2 * ALS.dim : ALS.dim);
    expect(config.blend !== undefined).toBe(blend.delivered);
  });

  it('runs within a minutes budget on the real clock: each search and the blend refits stop at their clock, and the winner is retrained and registered', async () => {
    if (ctx.kind === 'postgres') return; // storage-independent computation (the first test covers both storages)
    const source = await pretrainOn('source');
    const prepared = await prepare(source.id, 'target');
    const result = await transfer(prepared, { ...AUTO, autoCandidates: ['FULL', 'JOINT', 'FEATURE_EXTRACTION'], budget: { kind: 'minutes', minutes: 0.03 } });
    const search = result.report.search!;
    expect(search.budget).toBe('0.03m');
    expect(search.stoppedByClock).toBe(true);
    expect(search.trials.filter((t) => t.search === 'transfer').length).toBeGreaterThan(0);
    expect(result.trained.config).toMatchObject({ chosenBy: 'AUTO', budget: '0.03m' });
  });

  it('never reads the test split: another test set changes the test metrics, not one trial', async () => {
    if (ctx.kind === 'postgres') return; // storage-independent computation (the first test covers both storages)
    const source = await pretrainOn('source');
    const prepared = await prepare(source.id, 'target');
    // The same train and validation carve; every test item replaced by another target item.
    const rng = createRng(99);
    const items = prepared.target.itemDbIds.length;
    const otherTest: PreparedTransfer = { ...prepared, target: { ...prepared.target, test: { ...prepared.target.test, items: prepared.target.test.items.map((i) => (i + 1 + rng.int(items - 1)) % items) } } };
    const a = await transfer(prepared, AUTO);
    const b = await transfer(otherTest, AUTO);
    expect(trialKeys(b.report.search!)).toEqual(trialKeys(a.report.search!));
    expect(b.report.metrics['hr@10']).not.toBe(a.report.metrics['hr@10']);
  });

  it('still flags a transfer from an independently generated source (softmax towers, PARTIAL choices)', async () => {
    if (ctx.kind === 'pglite') return; // the computation is storage-independent: once is enough
    const source = await pretrainOn('other-source', { ...DEFAULT_MODEL, dim: 16, layers: [32, 16], seed: 5 });
    const prepared = await prepare(source.id, 'other-target');
    const { report } = await transfer(prepared, { ...AUTO, budget: { kind: 'trials', trials: 3 } });
    // One search over the softmax source's candidates and those of the implicit-ALS model AUTO
    // retrained on the source domain: the softmax source's defaults, then the twin's two anchors.
    const rung0 = report.search!.trials.filter((t) => t.search === 'transfer' && t.rung === 0);
    expect(rung0.map((t) => t.label.startsWith('from the implicit-als source retrained by AUTO: '))).toEqual([false, true, true]);
    expect(rung0.map((t) => t.epochs)).toEqual([1, 2, 1]);
    expect(Object.keys(rung0[0]!.settings)).toEqual(expect.arrayContaining(['learningRate', 'temperature', 'l2']));
    expect(rung0[1]!.settings).toMatchObject({ source: 1, strategy: 'FEATURE_EXTRACTION', alsAlpha: ALS_MODEL.alsAlpha });
    expect(report.negativeTransfer).toBe(true);
  });

  it('the plain journey: from a softmax source AUTO also searches an implicit-ALS model of the source domain, registers it with its lineage, and the next AUTO transfer reuses it', async () => {
    if (ctx.kind === 'postgres') return; // registry queries are covered on both elsewhere; the computation once is enough
    const softmax = await pretrainOn('source', { ...DEFAULT_MODEL, dim: 16, layers: [32, 16], seed: 5 });
    const prepareAuto = () => prepareTransfer(ctx.db, softmax.id, 'target', { split: { kind: 'leave-one-out', mode: 'last' }, coldStartShare: 0.15, seed: 3, retrainedSources: true });
    const settings = { ...AUTO, budget: { kind: 'trials' as const, trials: 4 } };
    const first = await prepareAuto();
    expect(first.alternativeSources).toBeUndefined();
    const result = await transfer(first, settings);
    expect(result.retrainedSource).toBeDefined();
    expect(result.retrainedSource!.config).toMatchObject({ retrainedFrom: softmax.id, retrainedFor: 'AUTO', model: { objective: 'implicit-als' } });
    const fromRetrained = result.report.search!.trials.filter((t) => t.label.startsWith('from the implicit-als source retrained by AUTO: '));
    // One search, one budget: the 4 configurations are the softmax source's defaults, the twin's
    // two anchors (its ALS defaults, its rows under a fresh hybrid top), then a softmax draw.
    const rung0 = result.report.search!.trials.filter((t) => t.search === 'transfer' && t.rung === 0);
    expect(rung0.map((t) => t.settings.source ?? 0)).toEqual([0, 1, 1, 0]);
    expect(rung0[2]!.settings).toMatchObject({ source: 1, strategy: 'PARTIAL', freezeLayers: 1, objective: 'hybrid' });
    expect(fromRetrained.every((t) => t.search === 'transfer' && t.settings.source === 1)).toBe(true);

    const { record, retrainedSource } = await registerTransferResult(ctx.db, { domain: 'target', transferReport: result.report as unknown as Record<string, unknown> }, result, softmax.id);
    expect(retrainedSource).toMatchObject({ domain: 'source', kind: 'PRETRAIN', parentModelId: softmax.id, status: 'READY' });
    expect(retrainedSource!.config.retrainedFrom).toBe(softmax.id);
    // On this world a transfer from the ALS twin wins (its rows under a fresh hybrid top): the
    // result's parent is the source it grafted, the retrained model, named once registered.
    expect(result.report.search!.transfer.label).toMatch(/^from the implicit-als source retrained by AUTO: /);
    expect(result.trained.config.sourceModelId).toBe(UNREGISTERED_SOURCE_ID);
    expect(record).toMatchObject({ kind: 'TRANSFER', parentModelId: retrainedSource!.id });
    expect(record.config.sourceModelId).toBe(retrainedSource!.id);

    // The next AUTO transfer from the softmax source finds the registered twin and trains nothing new.
    const second = await prepareAuto();
    expect(second.alternativeSources!.map((s) => s.modelId)).toEqual([retrainedSource!.id]);
    const again = await transfer(second, settings);
    expect(again.retrainedSource).toBeUndefined();
    const fromRegistered = again.report.search!.trials.filter((t) => t.label.startsWith(`from implicit-als source ${retrainedSource!.id}: `));
    // The same weights: the same trials, the same validation scores.
    expect(fromRegistered.map((t) => [t.config, t.rung, t.epochs, t.validation])).toEqual(fromRetrained.map((t) => [t.config, t.rung, t.epochs, t.validation]));
    expect(again.report.search!.transfer).toEqual(result.report.search!.transfer.label.startsWith('from the implicit-als source retrained by AUTO: ')
      ? { ...result.report.search!.transfer, label: result.report.search!.transfer.label.replace('the implicit-als source retrained by AUTO', `implicit-als source ${retrainedSource!.id}`) }
      : result.report.search!.transfer);
    // Off by choice: the given source alone.
    const alone = await transfer(first, { ...settings, retrainSource: false });
    expect(alone.retrainedSource).toBeUndefined();
    expect(alone.report.search!.trials.some((t) => t.label.startsWith('from '))).toBe(false);
  });

  it('chooses no transfer when the best transfer does not beat the tuned target-only model significantly on validation: registered as a single-domain model, guarded by popularity alone', async () => {
    const source = await pretrainOn('other-source');
    const prepared = await prepare(source.id, 'other-target');
    const phases: string[] = [];
    let evaluatedUsers = -1;
    const { report, trained } = await transfer(prepared, { ...AUTO, budget: { kind: 'trials', trials: 3 } }, { onPhase: (p) => phases.push(p), onEvaluated: (r) => (evaluatedUsers = r.perUser.users.length) });
    const search = report.search!;
    // An independently generated source: every transfer scores below the tuned target-only model on validation.
    expect(search.decision).toBe('target-only');
    // The best transfer's validation gain over it is not significant (paired bootstrap, 95%).
    expect(search.validationGain!.ci95[0]).toBeLessThanOrEqual(0);
    expect(search.validationGain!.value).toBeCloseTo(search.transfer.validation - search.baseline!.validation, 5);
    expect(search.metric).toBe('ndcg@10 (sampled, 199 negatives)');
    expect(phases).toEqual(['search', 'baseline', 'joint', 'evaluation']);
    // The delivered target-only model's test evaluation reaches the hook too, user by user.
    expect(evaluatedUsers).toBe(report.users);
    expect(report).toMatchObject({ outcome: 'TARGET_ONLY', strategy: 'NONE', replayWeight: 0, sourceEvents: { events: 0 } });
    expect(report.frozen).toMatch(/^no transfer: the best transfer \(.*\) did not beat AUTO's tuned target-only model \(target only, (implicit-als|hybrid|softmax), .*\) on validation \(0\.\d{4} vs 0\.\d{4}, gain [-+]0\.\d{4} \[[-+]0\.\d{4}, [-+]0\.\d{4}\]\)/);
    // It is its own baseline: a zero gain, and the guard is popularity alone.
    expect(report.metrics).toEqual(report.baseline);
    expect(report.gain['hr@10']).toMatchObject({ value: 0, ci95: [0, 0] });
    expect(report.guard.beatsBaseline).toBe(false);
    expect(report.negativeTransfer).toBe(!report.guard.beatsPopularity);
    expect(report.joint?.strategy).toBe('JOINT');
    const printed = formatTransferReport(report);
    expect(printed).toMatch(/\nchosen: NO TRANSFER, the target-only target only, (implicit-als|hybrid|softmax), .*: the best transfer, .*, scored 0\.\d{4} on validation against 0\.\d{4}, gain .*, not a gain with 95% confidence/);
    expect(printed).toMatch(/\nno transfer: the best transfer/);
    expect(printed).toMatch(/no transfer \(AUTO's tuned target-only model won on validation\)/);
    const winner = search.trials.find((t) => t.label === search.baseline!.label)!.settings;
    // The registered model is the winner's objective and settings (the objective's tower shape with it).
    expect(trained.config).toMatchObject({ strategy: 'NONE', chosenBy: 'AUTO', searchedFrom: source.id, model: { objective: winner.objective, ...(winner.alsAlpha !== undefined ? { alsAlpha: winner.alsAlpha } : {}) } });
    expect((trained.config.model as { layers: number[] }).layers.length > 0).toBe(winner.objective !== 'implicit-als');

    // Registered as a model of the target alone: no strategy, no parent (no source weight is in it).
    const registration = transferRegistration(report, source.id);
    expect(registration).toEqual({ kind: 'PRETRAIN', strategy: null, parentModelId: null });
    const record = await registerTrainedModel(ctx.db, { domain: 'other-target', ...registration, transferReport: report as never, negativeTransfer: report.negativeTransfer }, trained);
    expect(await getModel(ctx.db.db, record.id)).toMatchObject({ kind: 'PRETRAIN', strategy: null, parentModelId: null, negativeTransfer: report.negativeTransfer });
    // A job activates it when asked to and it beats popularity; never when it does not.
    const config = { sourceModelId: source.id, targetDomain: 'other-target', strategy: 'AUTO', activateIfBetter: true } as never;
    expect(activationDecision(config, { ...report, negativeTransfer: false, guard: { beatsBaseline: false, beatsPopularity: true } })).toMatchObject({ activate: true, reason: expect.stringMatching(/^AUTO chose no transfer/) });
    expect(activationDecision(config, { ...report, negativeTransfer: true, guard: { beatsBaseline: false, beatsPopularity: false } })).toMatchObject({ activate: false, reason: expect.stringMatching(/no transfer .* over popularity does not lie above 0/) });
  });

  it('searches only the candidates it is given (the tuned JOINT reference), and refuses candidates the source does not allow', async () => {
    if (ctx.kind === 'postgres') return; // storage-independent computation
    const source = await pretrainOn('source');
    const prepared = await prepare(source.id, 'target');
    const { report } = await transfer(prepared, { ...AUTO, budget: { kind: 'trials', trials: 3 }, autoCandidates: ['JOINT'] });
    const transferTrials = report.search!.trials.filter((t) => t.search === 'transfer');
    expect(transferTrials.every((t) => t.label.startsWith('JOINT, alsAlpha'))).toBe(true);
    expect(transferTrials.every((t) => t.settings.replayWeight === undefined)).toBe(true);
    expect(['JOINT', 'NONE']).toContain(report.strategy);
    // Without the baseline's search (bench/transfer's tuned JOINT reference): the best JOINT, always a transfer.
    const alone = await searchTransfer(transferContext(prepared), { ...AUTO, budget: { kind: 'trials', trials: 3 } }, {}, { candidates: ['JOINT'], searchBaseline: false });
    expect(alone.decision).toBe('transfer');
    expect(alone.settings.strategy).toBe('JOINT');
    expect(alone.report.trials.every((t) => t.search === 'transfer')).toBe(true);
    expect(alone.report.trials.map((t) => [t.config, t.rung, t.validation])).toEqual(transferTrials.map((t) => [t.config, t.rung, t.validation]));
    // Plain joint ALS (bench/transfer's JOINT_TUNED): the popularity term kept out, at the source's β (0).
    const plain = await searchTransfer(transferContext(prepared), { ...AUTO, budget: { kind: 'trials', trials: 3 } }, {}, { candidates: ['JOINT'], searchBaseline: false, fixed: ['popularityWeight'] });
    expect(plain.report.trials.every((t) => t.settings.popularityWeight === undefined && t.settings.alsAlpha !== undefined)).toBe(true);
    expect(plain.settings.model?.popularityWeight).toBeUndefined();
    // An implicit-ALS source has no MLP layer: its only PARTIAL is PARTIAL(1) under a fresh hybrid top; without that, none differs from FEATURE_EXTRACTION.
    const als = modelObjective('implicit-als');
    expect(narrowed(transferSearchSpace(als, 0, true, layeredObjectiveOver(als)), ['PARTIAL']).strategies).toEqual([{ strategy: 'PARTIAL', freezeLayers: 1, objective: modelObjective('hybrid') }]);
    expect(() => narrowed(transferSearchSpace(als, 0, true), ['PARTIAL'])).toThrow(/AUTO's candidates \[PARTIAL\] leave nothing to search for this source \(it allows FEATURE_EXTRACTION, FULL, JOINT\); name one of those/);
    expect(layeredObjectiveOver(modelObjective('softmax'))).toBeUndefined();
  });

  it('refuses AUTO without a validation carve, naming the fix', async () => {
    if (ctx.kind === 'postgres') return;
    const source = await pretrainOn('source');
    const prepared = await prepare(source.id, 'target');
    const noCarve: PreparedTransfer = { ...prepared, target: { ...prepared.target, validation: undefined } };
    await expect(transfer(noCarve, AUTO)).rejects.toThrow(/strategy AUTO scores its trials on a validation carve .* choose a strategy instead \(e\.g\. --strategy feature-extraction\)/);
  });
});
