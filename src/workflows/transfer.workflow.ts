import { defaultOf } from './settings/index.js';
import { GraftError } from '../errors.js';
import { evaluate, evaluateWithPopularity, type EvaluationReport } from '../evaluation/evaluate.js';
import type { Scorer } from '../evaluation/scorer.js';
import { initBackend, type BackendInfo } from '../model/backend.js';
import type { TokenBags } from '../model/token-hash.js';
import type { TwoTowerConfig, TwoTowerModel } from '../model/two-tower.model.js';
import type { NamedWeight } from '../model/named-weight.js';
import type { Alignment } from '../transfer/alignment.js';
import { NEW_ITEM_INITS, type NewItemInit } from '../transfer/item-init.js';
import { createStrategy } from '../transfer/strategies.js';
import { compareWithBaseline, compareWithReference, describeValidationGain, type ColdStartCarve, type ReferenceComparison, type SearchReport, type SearchTrialRecord, type TransferReport } from '../transfer/transfer-report.js';
import type { SourceEventMix, TransferStrategyName } from '../transfer/transfer-strategy.js';
import { DEFAULT_SEARCH_BUDGET, type SearchBudget } from '../tuning/search-budget.js';
import { searchTransfer } from './auto-transfer.js';
import { needsRetrainedSource, retrainSource } from './retrained-source.js';
import { evaluationData } from './evaluation-data.js';
import { evaluateModel, modelScorer, setUserHistoriesFrom, trainingEvents, type TrainingHooks } from './fit-and-evaluate.js';
import type { EvaluationSettings, TrainingSettings } from './model-settings.js';
import { concatExamples, type Examples, type PreparedDomain } from './prepared-domain.js';
import { fitStrategy, fitTargetOnly, transferContext, type FittedStrategy, type ModelOverrides, type StrategyRun, type TransferContext, withOverrides } from './transfer-candidate.js';
import { collectTrainedModel, summariseMetrics, type TrainedModel } from './trained-model.js';
import { blendedModel, isBlendable } from './blend.js';
import type { TrainResult } from '../training/train.js';

/** The source side of a transfer, in the source model's row order. */
export interface PreparedSource {
  modelId: string;
  domain: string;
  config: TwoTowerConfig;
  weights: NamedWeight[];
  userDbIds: Int32Array;
  itemDbIds: Int32Array;
  /** Token bags of the source model's item rows (undefined for ID-only data). */
  itemTokens?: TokenBags;
  /** Source interactions (model rows), replayed while fine-tuning. */
  events: Examples;
}

export interface PreparedTransfer {
  source: PreparedSource;
  /** The target domain, split, with held-out cold-start users (all their target events in test). */
  target: PreparedDomain;
  /** Target users whose whole target history was held out to measure cold-start quality. */
  coldStartTestUsers: number;
  /** The synthetic cold-start carve (`holdOutColdStartUsers`): its share, seed and how many users it moved. */
  coldStartCarve?: ColdStartCarve;
  /**
   * AUTO also searches transfers from these: models of the source's domain retrained with
   * another objective (`retrainedSourcesFor`), e.g. implicit ALS for a softmax source. Fixed
   * strategies graft `source` only.
   */
  alternativeSources?: PreparedSource[];
}

export interface TransferSettings {
  /** A strategy, or AUTO: search strategies and settings on the validation carve within `budget` (see `searchTransfer`). */
  strategy: TransferStrategyName | 'AUTO';
  /** AUTO's budget (default DEFAULT_SEARCH_BUDGET). */
  budget?: SearchBudget;
  /**
   * AUTO from a softmax or hybrid source: also train an implicit-ALS model of the source domain
   * and search transfers from it (`retrainSource`), unless one is among `alternativeSources`
   * already. Default true; false searches the given source (and the alternatives) only.
   */
  retrainSource?: boolean;
  /** AUTO: search only these strategies (e.g. ['JOINT'] for bench/transfer's tuned JOINT reference); default every one the source allows. */
  autoCandidates?: readonly TransferStrategyName[];
  freezeLayers?: number;
  pretrainedLearningRate?: number;
  /** Weight of replayed source events (0 turns replay off). Grafting strategies only (JOINT refuses it); absent = the declared default. */
  replayWeight?: number;
  /** Replayed source examples per epoch, as a share of the target examples. Grafting strategies only; absent = the declared default. */
  replayFraction?: number;
  /**
   * Also train the JOINT model (from scratch on source + target events) with the same budget and
   * report the transfer's gain over it (`TransferReport.joint`). Not for JOINT itself; absent = the declared default (on).
   */
  jointReference?: boolean;
  tokenDropout?: number;
  /**
   * How new target item rows start: 'random' (default), 'co-users' (towards the pretrained
   * item rows their users chose in the source; see `initNewItemsFromCoUsers`) or 'implicit-als'
   * (the softmax towers' new items and users solved by implicit ALS against the grafted rows;
   * see `warmStartNewRows`).
   */
  itemInit?: NewItemInit;
  /**
   * Give the transferred model (and the baseline) a learned item bias even when the source
   * model has none (`TwoTowerConfig.itemBias`; absent = as the source); the source's rows
   * start at bias 0, new items too. With the multiplier of its learning rate.
   */
  itemBias?: { learningRate?: number };
  /** Model settings changed from the source's (AUTO's choice; absent = the source's). */
  model?: ModelOverrides;
  /** The baseline's own settings (AUTO's choice for it); absent = the transferred model's. */
  baseline?: { model?: ModelOverrides; training: TrainingSettings };
  /**
   * AUTO's blend (`workflows/blend.ts`): the transferred model (implicit-ALS rows) is delivered
   * blended at `weight` with a second model trained on the same data, the best trial of another
   * kind on the carve: another transfer strategy or source (`partner.search: 'transfer'`), or a
   * target-only model ('baseline'). The blend's popularity term is `popularityWeight`.
   */
  blend?: BlendSettings;
  training: TrainingSettings;
  evaluation: EvaluationSettings;
  seed: number;
  device?: 'AUTO' | 'CPU' | 'GPU';
}

/** A blend's second model and weights (`TransferSettings.blend`). */
export interface BlendSettings {
  /** The transferred model's weight; the partner's is 1 - weight. */
  weight: number;
  popularityWeight: number;
  partner: {
    search: 'transfer' | 'baseline';
    /** A transfer partner's strategy (absent for a target-only one). */
    strategy?: TransferStrategyName;
    freezeLayers?: number;
    replayWeight: number;
    model: ModelOverrides;
    training: TrainingSettings;
  };
}

export const DEFAULT_TRANSFER: Omit<TransferSettings, 'strategy' | 'training' | 'evaluation' | 'seed'> & { replayWeight: number; replayFraction: number } = {
  replayWeight: defaultOf('replayWeight'),
  replayFraction: defaultOf('replayFraction'),
};

export interface TransferHooks extends TrainingHooks {
  /** Called when the run moves to the next model: AUTO's search, the transferred one, the baseline, the JOINT reference (when on), then evaluation. */
  onPhase?: (phase: 'search' | 'transfer' | 'baseline' | 'joint' | 'evaluation') => void;
  /** AUTO: one call per finished trial of either search. */
  onTrial?: (trial: SearchTrialRecord) => void;
  /**
   * The delivered model's test evaluation, user by user (`perUser`): lets a caller compare two
   * transfers on the same users with a paired bootstrap (`bench/transfer` does).
   */
  onEvaluated?: (report: EvaluationReport) => void;
}

export interface TransferResult {
  trained: TrainedModel;
  report: TransferReport;
  /**
   * AUTO trained an implicit-ALS model of the source domain to search from (`retrainSource`):
   * register it first (`registerTransferResult`), whether or not the winner grafted it, so the
   * next AUTO transfer from the same source reuses it.
   */
  retrainedSource?: TrainedModel;
}

/**
 * Grafts the source model onto the target domain with a strategy, fine-tunes it (mixing in
 * replayed source events), or with JOINT trains a model from scratch on both domains' events;
 * trains a target-only baseline with the same budget (and, for a grafting strategy, the JOINT
 * reference unless `jointReference` is off), and compares them on the same target test users.
 * Pure computation: no database access.
 */
export async function transfer(prepared: PreparedTransfer, settings: TransferSettings, hooks: TransferHooks = {}): Promise<TransferResult> {
  const { target } = prepared;
  if (target.test.users.length === 0) {
    throw new GraftError(
      'BAD_INPUT',
      `the target split (${describeSplit(target)}) has no test interactions, so the transfer could not be compared with its baseline; use --split loo, --test-file F or a cold-start share above 0`,
    );
  }
  if (settings.itemInit !== undefined && !NEW_ITEM_INITS.includes(settings.itemInit)) {
    throw new GraftError('BAD_INPUT', `settings.itemInit = ${JSON.stringify(settings.itemInit)} is unknown; use ${NEW_ITEM_INITS.join(', ')} (or leave it out: random)`);
  }
  const backend = await initBackend({ device: settings.device });
  const context = transferContext(prepared);
  let search: SearchReport | undefined;
  let fixed = settings as TransferSettings & { strategy: TransferStrategyName };
  if (settings.strategy === 'AUTO') {
    hooks.onPhase?.('search');
    // The plain journey: a softmax or hybrid source also gets an implicit-ALS twin to transfer from.
    let sources = prepared.alternativeSources ?? [];
    let retrainedSource: TrainedModel | undefined;
    if (settings.retrainSource !== false && needsRetrainedSource(prepared.source, sources)) {
      const retrained = await retrainSource(prepared.source, { seed: settings.seed, evaluation: settings.evaluation, device: settings.device }, { signal: hooks.signal });
      retrainedSource = retrained.trained;
      sources = [...sources, retrained.prepared];
    }
    const alternatives = sources.map((source) => transferContext({ ...prepared, source }));
    const found = await searchTransfer(context, { ...settings, budget: settings.budget ?? DEFAULT_SEARCH_BUDGET }, hooks, { candidates: settings.autoCandidates, alternatives });
    fixed = found.settings;
    search = found.report;
    // The winner may graft an alternative source (then the registered transfer's parent is that model).
    const result = found.decision === 'target-only' ? await targetOnlyOutcome(context, fixed, backend, hooks, search, found.context) : await transferWith(found.context, fixed, backend, hooks, search, found.blendContext);
    return retrainedSource ? { ...result, retrainedSource } : result;
  }
  return transferWith(context, fixed, backend, hooks, search);
}

/** The strategy name of a TARGET_ONLY outcome: no transfer. */
export const NO_TRANSFER = 'NONE';

/**
 * AUTO's "no transfer": the tuned target-only configuration beat every transfer on validation,
 * so it is retrained on all training data and is the result, a single-domain model of the
 * target (`outcome: 'TARGET_ONLY'`, `strategy: 'NONE'`). It is evaluated like a transfer on
 * the same test users; being its own baseline, only the popularity check guards it. The JOINT
 * reference is trained as for any grafting result (when on), so the report still says what
 * the classic cross-domain model would have scored.
 */
async function targetOnlyOutcome(
  context: TransferContext,
  settings: TransferSettings & { strategy: TransferStrategyName },
  backend: BackendInfo,
  hooks: TransferHooks,
  search: SearchReport,
  /** The source the best transfer grafted (its JOINT reference trains with that source's config and the transfer's settings); default `context`. */
  jointContext: TransferContext = context,
): Promise<TransferResult> {
  const { prepared, alignment, sourceEvents: mappedSource } = context;
  const { source, target } = prepared;
  const nTargetUsers = alignment.targetUsers;
  const nTargetItems = alignment.targetItems;
  const test = evaluationData(concatExamples(target.train, target.validation), target.test, nTargetUsers, nTargetItems);
  const config = withOverrides(transferConfig(source.config, { ...settings, model: undefined }), settings.baseline?.model);
  const training = settings.baseline?.training ?? settings.training;
  let model: TwoTowerModel | undefined;
  let joint: FittedStrategy | undefined;
  try {
    hooks.onPhase?.('baseline');
    const events = trainingEvents(config, target.train, target.validation);
    const validation = events.validation && evaluationData(events.train, events.validation, nTargetUsers, nTargetItems);
    const fit = await fitTargetOnly(context, config, events.train, validation, training, settings.seed, hooks, settings.evaluation);
    model = fit.model;
    if (fit.training.aborted) throw abortError(hooks.signal);
    if ((settings.jointReference ?? defaultOf<boolean>('jointReference')) === true) {
      hooks.onPhase?.('joint');
      const jointConfig = transferConfig(jointContext.prepared.source.config, settings);
      const jointEvents = trainingEvents(jointConfig, target.train, target.validation);
      const jointValidation = jointEvents.validation && evaluationData(jointEvents.train, jointEvents.validation, nTargetUsers, nTargetItems);
      joint = await fitStrategy(jointContext, createStrategy('JOINT'), { config: jointConfig, train: jointEvents.train, validation: jointValidation, settings, hooks });
      if (joint.training.aborted) throw abortError(hooks.signal);
    }

    hooks.onPhase?.('evaluation');
    setUserHistoriesFrom(model, target.train, target.validation);
    const scorer = withPopularityFallback(modelScorer(model, nTargetItems), test.popularity, test.trainHistories.offsets);
    const evaluated = evaluateWithPopularity(scorer, test, settings.evaluation);
    hooks.onEvaluated?.(evaluated.model);
    const comparison = compareWithBaseline(evaluated.model, evaluated.model, evaluated.popularity, { seed: settings.evaluation.seed });
    let reference: ReferenceComparison | undefined;
    if (joint) {
      setUserHistoriesFrom(joint.model, mappedSource, target.train, target.validation);
      const jointReport = evaluate(modelScorer(joint.model, nTargetItems), test, { ...settings.evaluation, users: evaluated.model.perUser.users });
      reference = compareWithReference(joint.strategy.name, evaluated.model, jointReport, { seed: settings.evaluation.seed });
    }
    const report: TransferReport = {
      search,
      outcome: 'TARGET_ONLY',
      strategy: NO_TRANSFER,
      frozen: `no transfer: the best transfer (${search.transfer.label}) did not beat AUTO's tuned target-only model (${search.baseline?.label ?? 'defaults'}) on validation (${search.transfer.validation.toFixed(4)} vs ${search.baseline?.validation.toFixed(4)}${describeValidationGain(search)}), so the result is that model and nothing of source model ${source.modelId} is in it`,
      replayWeight: 0,
      start: 'scratch',
      sourceEvents: { events: 0, weight: 0, perEpoch: 0 },
      overlap: overlapByHistory(alignment, target.coldStartTestUsers),
      ...comparison,
      // Its own baseline: only the popularity check applies.
      guard: { beatsBaseline: false, beatsPopularity: comparison.guard.beatsPopularity },
      negativeTransfer: !comparison.guard.beatsPopularity,
      ...(reference ? { joint: reference } : {}),
      ...heldOutTestOf(prepared, settings.seed),
    };
    const trained = collectTrainedModel(model, {
      config: {
        model: config,
        training,
        evaluation: settings.evaluation,
        split: target.split,
        strategy: NO_TRANSFER,
        chosenBy: 'AUTO',
        budget: search.budget,
        searchedFrom: source.modelId,
      },
      // The target's rows only: the source rows the alignment appends are not in a target-only model.
      userDbIds: alignment.userDbIds.subarray(0, model.users),
      itemDbIds: alignment.itemDbIds.subarray(0, model.items),
      candidateItems: nTargetItems,
      report: evaluated,
      dropped: target.dropped,
      training: fit.training,
      backend,
    });
    return { trained, report };
  } finally {
    model?.dispose();
    joint?.model.dispose();
  }
}

async function transferWith(
  context: TransferContext,
  settings: TransferSettings & { strategy: TransferStrategyName },
  backend: BackendInfo,
  hooks: TransferHooks,
  search: SearchReport | undefined,
  /** The source a blend's partner grafts or, for a target-only partner, aligns to (default `context`). */
  blendContext: TransferContext = context,
): Promise<TransferResult> {
  const { prepared, alignment, sourceEvents: mappedSource } = context;
  const { source, target } = prepared;
  const strategy = createStrategy(settings.strategy, { freezeLayers: settings.freezeLayers, pretrainedLearningRate: settings.pretrainedLearningRate });
  const nTargetUsers = alignment.targetUsers;
  const nTargetItems = alignment.targetItems;
  const config = transferConfig(source.config, settings);

  const events = trainingEvents(config, target.train, target.validation);
  const validation = events.validation && evaluationData(events.train, events.validation, nTargetUsers, nTargetItems);
  const test = evaluationData(concatExamples(target.train, target.validation), target.test, nTargetUsers, nTargetItems);

  if (settings.blend) checkBlend(settings.blend, config);
  const run: StrategyRun = { config, train: events.train, validation, settings, hooks };
  const withReference = (settings.jointReference ?? defaultOf<boolean>('jointReference')) && strategy.start === 'pretrained';
  let fitted: FittedStrategy | undefined;
  let baseline: TwoTowerModel | undefined;
  let joint: FittedStrategy | undefined;
  let partner: TwoTowerModel | undefined;
  let blended: TwoTowerModel | undefined;
  try {
    hooks.onPhase?.('transfer');
    fitted = await fitStrategy(context, strategy, run);
    const { training, mix } = fitted;
    if (training.aborted) throw abortError(hooks.signal);
    let model = fitted.model;
    if (settings.blend) {
      const fit = await fitBlendPartner(blendContext, settings, hooks);
      partner = fit.model;
      if (fit.training.aborted) throw abortError(hooks.signal);
      blended = blendedModel(model, partner, settings.blend.weight, { users: nTargetUsers, items: nTargetItems }, settings.blend.popularityWeight, events.train);
      model = blended;
    }
    // The term is counted from, and its β chosen on, users with target events: users known from the source alone rank by their transferred rows.
    if (model.config.popularityWeight > 0 && !model.config.itemBias) model.setPopularityTermUsers(usersWithEvents(model.users, target.train, target.validation));

    hooks.onPhase?.('baseline');
    const baselineConfig = withOverrides(transferConfig(source.config, { ...settings, model: undefined }), settings.baseline ? settings.baseline.model : settings.model);
    const baselineEvents = trainingEvents(baselineConfig, target.train, target.validation);
    const baselineValidation = baselineEvents.validation && evaluationData(baselineEvents.train, baselineEvents.validation, nTargetUsers, nTargetItems);
    const baselineFit = await fitTargetOnly(context, baselineConfig, baselineEvents.train, baselineValidation, settings.baseline?.training ?? settings.training, settings.seed, hooks, settings.evaluation);
    baseline = baselineFit.model;
    const baselineTraining = baselineFit.training;
    if (baselineTraining.aborted) throw abortError(hooks.signal);

    if (withReference) {
      hooks.onPhase?.('joint');
      joint = await fitStrategy(context, createStrategy('JOINT'), run);
      if (joint.training.aborted) throw abortError(hooks.signal);
    }

    hooks.onPhase?.('evaluation');
    setUserHistoriesFrom(model, mappedSource, target.train, target.validation);
    setUserHistoriesFrom(baseline, target.train, target.validation);
    const transferred = evaluateModel(model, test, settings.evaluation, nTargetItems);
    hooks.onEvaluated?.(transferred.model);
    const sameUsers = { ...settings.evaluation, users: transferred.model.perUser.users };
    const baselineScorer = withPopularityFallback(modelScorer(baseline), test.popularity, test.trainHistories.offsets);
    const baselineReport = evaluate(baselineScorer, test, sameUsers);
    const comparison = compareWithBaseline(transferred.model, baselineReport, transferred.popularity, { seed: settings.evaluation.seed });
    let reference: ReferenceComparison | undefined;
    if (joint) {
      setUserHistoriesFrom(joint.model, mappedSource, target.train, target.validation);
      const jointReport = evaluate(modelScorer(joint.model, nTargetItems), test, sameUsers);
      reference = compareWithReference(joint.strategy.name, transferred.model, jointReport, { seed: settings.evaluation.seed });
    }
    const report: TransferReport = {
      ...(search ? { search } : {}),
      outcome: 'TRANSFER',
      strategy: strategy.name,
      frozen: `${strategy.describe(fitted.model)}${settings.blend ? `; delivered blended with ${search?.blend?.partner ?? 'a second model'} (weight ${settings.blend.weight} : ${1 - settings.blend.weight}, dim ${fitted.model.config.dim} + ${partner!.config.dim})` : ''}`,
      freezeLayers: strategy.name === 'PARTIAL' ? (settings.freezeLayers ?? 1) : undefined,
      replayWeight: strategy.start === 'pretrained' && mix ? mix.weight : 0,
      start: strategy.start,
      sourceEvents: mix && mappedSource ? { events: mappedSource.users.length, weight: mix.weight, perEpoch: perEpoch(mix, mappedSource.users.length, events.train.users.length, model) } : { events: 0, weight: 0, perEpoch: 0 },
      overlap: overlapByHistory(alignment, target.coldStartTestUsers),
      ...comparison,
      ...(reference ? { joint: reference } : {}),
      ...heldOutTestOf(prepared, settings.seed),
    };
    const trained = collectTrainedModel(model, {
      config: {
        model: model.config,
        training: settings.training,
        evaluation: settings.evaluation,
        split: target.split,
        strategy: strategy.name,
        ...(search ? { chosenBy: 'AUTO', budget: search.budget } : {}),
        freezeLayers: report.freezeLayers,
        replayWeight: report.replayWeight,
        ...(settings.blend ? { blend: settings.blend } : {}),
        ...(report.replayWeight > 0 ? { replayFraction: settings.replayFraction ?? DEFAULT_TRANSFER.replayFraction } : {}),
        sourceModelId: source.modelId,
        baseline: summariseMetrics({ model: baselineReport, popularity: transferred.popularity }, baselineTraining, target.dropped),
      },
      userDbIds: alignment.userDbIds,
      itemDbIds: alignment.itemDbIds,
      candidateItems: nTargetItems,
      report: transferred,
      dropped: target.dropped,
      training,
      backend,
    });
    return { trained, report };
  } finally {
    fitted?.model.dispose();
    baseline?.dispose();
    joint?.model.dispose();
    partner?.dispose();
    blended?.dispose();
  }
}

/** 1 for each user row with an event in `sets` (a transfer's target users come first in its rows), else 0. */
function usersWithEvents(users: number, ...sets: ReadonlyArray<Examples | undefined>): Uint8Array {
  const flags = new Uint8Array(users);
  for (const set of sets) if (set) for (const u of set.users) flags[u] = 1;
  return flags;
}

/** A blend asked of a model that cannot be one, or without its partner's strategy: refused before anything trains. */
function checkBlend(blend: BlendSettings, config: TwoTowerConfig): void {
  if (!isBlendable(config)) {
    throw new GraftError('BAD_INPUT', `settings.blend needs an implicit-ALS transfer (ID rows, no layers), and this one has objective ${config.objective} with layers [${(config.layers ?? []).join(', ')}]; drop blend or transfer with implicit ALS`);
  }
  if (blend.partner.search === 'transfer' && !blend.partner.strategy) {
    throw new GraftError('BAD_INPUT', "settings.blend.partner has search 'transfer' but no strategy; name one (e.g. JOINT) or use search 'baseline'");
  }
  if (!(blend.weight >= 0 && blend.weight <= 1)) throw new GraftError('BAD_INPUT', `settings.blend.weight is ${blend.weight}; it must be between 0 and 1`);
}

/** A blend's second model, retrained on all training data with the settings the carve chose for it. */
async function fitBlendPartner(context: TransferContext, settings: TransferSettings & { blend?: BlendSettings }, hooks: TransferHooks): Promise<{ model: TwoTowerModel; training: TrainResult }> {
  const { partner } = settings.blend!;
  const { prepared, alignment } = context;
  const { target } = prepared;
  if (partner.search === 'baseline') {
    const config = withOverrides(transferConfig(prepared.source.config, { ...settings, model: undefined }), partner.model);
    const events = trainingEvents(config, target.train, target.validation);
    const validation = events.validation && evaluationData(events.train, events.validation, alignment.targetUsers, alignment.targetItems);
    return fitTargetOnly(context, config, events.train, validation, partner.training, settings.seed, hooks, settings.evaluation);
  }
  const config = transferConfig(prepared.source.config, { ...settings, model: partner.model });
  const events = trainingEvents(config, target.train, target.validation);
  const validation = events.validation && evaluationData(events.train, events.validation, alignment.targetUsers, alignment.targetItems);
  const strategy = createStrategy(partner.strategy!, { freezeLayers: partner.freezeLayers, pretrainedLearningRate: settings.pretrainedLearningRate });
  const fitted = await fitStrategy(context, strategy, { config, train: events.train, validation, settings: { ...settings, replayWeight: partner.replayWeight, training: partner.training }, hooks });
  return { model: fitted.model, training: fitted.training };
}

/** The report's account of the test set: pairs left out of it, and where its cold-start users come from. */
function heldOutTestOf(prepared: PreparedTransfer, seed: number): Pick<TransferReport, 'dropped' | 'coldStart'> {
  const { target } = prepared;
  return {
    dropped: { ...target.dropped },
    coldStart: { fromTestFile: target.coldStartTestUsers, carve: prepared.coldStartCarve ?? { share: 0, seed, users: prepared.coldStartTestUsers } },
  };
}

/**
 * The transferred model's config: the source's, with the run's seed, token dropout, item bias
 * and overrides (an overriding objective re-shapes the towers: an implicit-ALS source's rows
 * under hybrid towers, see `graftModel`).
 */
export function transferConfig(sourceConfig: TwoTowerConfig, settings: Pick<TransferSettings, 'tokenDropout' | 'seed' | 'itemBias' | 'model'>): TwoTowerConfig {
  return withOverrides(
    {
      ...sourceConfig,
      tokenDropout: settings.tokenDropout ?? sourceConfig.tokenDropout,
      seed: settings.seed,
      ...(settings.itemBias ? { itemBias: true, itemBiasLearningRate: settings.itemBias.learningRate ?? sourceConfig.itemBiasLearningRate } : {}),
    },
    settings.model,
  );
}

/** Source examples per epoch: every one for a row-solving objective or an undefined share, else the share of the target examples. */
function perEpoch(mix: SourceEventMix, sourceEvents: number, targetEvents: number, model: TwoTowerModel): number {
  if (mix.fraction === undefined || !model.objective.gradientSteps) return sourceEvents;
  return Math.round(mix.fraction * targetEvents);
}

/**
 * The alignment's overlap with the test users of a fixed split who have source history only
 * counted as what they are: users without target history (the alignment puts them in the
 * target rows, after the users with target events, so that the split can index them).
 */
function overlapByHistory(alignment: Alignment, fromTestFile: number): Alignment['overlap'] {
  const o = alignment.overlap;
  return { ...o, usersInBoth: o.usersInBoth - fromTestFile, usersWithoutTargetHistory: o.usersWithoutTargetHistory + fromTestFile, targetUsers: o.targetUsers - fromTestFile };
}

function describeSplit(target: PreparedDomain): string {
  const split = target.split;
  return split.kind === 'file' ? `file ${split.path}, ${target.unknownTestPairs} pairs left out` : split.kind;
}

/**
 * A target-only model has nothing to say about a user without target history; the fair
 * stand-in (what a product without transfer would show) is popularity.
 */
function withPopularityFallback(inner: Scorer, popularity: Float32Array, historyOffsets: Int32Array): Scorer {
  const hasHistory = (u: number) => u + 1 < historyOffsets.length && historyOffsets[u + 1]! > historyOffsets[u]!;
  return {
    nItems: inner.nItems,
    score(users) {
      const scores = inner.score(users);
      users.forEach((u, row) => {
        if (!hasHistory(u)) scores.set(popularity.subarray(0, inner.nItems), row * inner.nItems);
      });
      return scores;
    },
  };
}

export function abortError(signal: AbortSignal | undefined): Error {
  return new GraftError('CANCELLED', `transfer cancelled${signal?.reason ? `: ${String((signal.reason as Error).message ?? signal.reason)}` : ''}; no model was registered`);
}
