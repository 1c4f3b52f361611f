import { defaultOf } from './settings/index.js';
import { GraftError } from '../errors.js';
import { evaluate } from '../evaluation/evaluate.js';
import type { Scorer } from '../evaluation/scorer.js';
import { initBackend, type BackendInfo } from '../model/backend.js';
import type { TokenBags } from '../model/token-hash.js';
import type { TwoTowerConfig, TwoTowerModel } from '../model/two-tower.model.js';
import type { NamedWeight } from '../model/named-weight.js';
import type { Alignment } from '../transfer/alignment.js';
import type { NewItemInit } from '../transfer/item-init.js';
import { compareWithBaseline, type ColdStartCarve, type SearchReport, type SearchTrialRecord, type TransferReport } from '../transfer/transfer-report.js';
import type { TransferStrategyName } from '../transfer/transfer-strategy.js';
import { DEFAULT_SEARCH_BUDGET, type SearchBudget } from '../tuning/search-budget.js';
import { searchTransfer } from './auto-transfer.js';
import { evaluationData } from './evaluation-data.js';
import { evaluateModel, modelScorer, setUserHistoriesFrom, trainingEvents, type TrainingHooks } from './fit-and-evaluate.js';
import type { EvaluationSettings, TrainingSettings } from './model-settings.js';
import { concatExamples, type Examples, type PreparedDomain } from './prepared-domain.js';
import { fitTargetOnly, fitTransferred, transferContext, type ModelOverrides, type TransferContext } from './transfer-candidate.js';
import { collectTrainedModel, summariseMetrics, type TrainedModel } from './trained-model.js';

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
}

export interface TransferSettings {
  /** A strategy, or AUTO: search strategies and settings on the validation carve within `budget` (see `searchTransfer`). */
  strategy: TransferStrategyName | 'AUTO';
  /** AUTO's budget (default DEFAULT_SEARCH_BUDGET). */
  budget?: SearchBudget;
  freezeLayers?: number;
  pretrainedLearningRate?: number;
  /** Weight of replayed source events (0 turns replay off). */
  replayWeight: number;
  /** Replayed source examples per epoch, as a share of the target examples. */
  replayFraction: number;
  tokenDropout?: number;
  /**
   * How new target item rows start: 'random' (default) or 'co-users' (towards the pretrained
   * item rows their users chose in the source; see `initNewItemsFromCoUsers`).
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
  training: TrainingSettings;
  evaluation: EvaluationSettings;
  seed: number;
  device?: 'AUTO' | 'CPU' | 'GPU';
}

export const DEFAULT_TRANSFER: Omit<TransferSettings, 'strategy' | 'training' | 'evaluation' | 'seed'> = {
  replayWeight: defaultOf('replayWeight'),
  replayFraction: defaultOf('replayFraction'),
};

export interface TransferHooks extends TrainingHooks {
  /** Called when the run moves to the next model: AUTO's search, the transferred one, then the baseline. */
  onPhase?: (phase: 'search' | 'transfer' | 'baseline' | 'evaluation') => void;
  /** AUTO: one call per finished trial of either search. */
  onTrial?: (trial: SearchTrialRecord) => void;
}

export interface TransferResult {
  trained: TrainedModel;
  report: TransferReport;
}

/**
 * Grafts the source model onto the target domain with a strategy, fine-tunes it (mixing in
 * replayed source events), trains a target-only baseline with the same budget, and compares
 * both on the same target test users. With strategy AUTO, a search on the validation carve
 * of the target's training data first chooses the strategy and settings, and the baseline's
 * settings by the same search (`searchTransfer`). Pure computation: no database access.
 */
export async function transfer(prepared: PreparedTransfer, settings: TransferSettings, hooks: TransferHooks = {}): Promise<TransferResult> {
  const { target } = prepared;
  if (target.test.users.length === 0) {
    throw new GraftError(
      'BAD_INPUT',
      `the target split (${describeSplit(target)}) has no test interactions, so the transfer could not be compared with its baseline; use --split loo, --test-file F or a cold-start share above 0`,
    );
  }
  const backend = await initBackend({ device: settings.device });
  const context = transferContext(prepared);
  let search: SearchReport | undefined;
  let fixed: TransferSettings & { strategy: TransferStrategyName } = settings as TransferSettings & { strategy: TransferStrategyName };
  if (settings.strategy === 'AUTO') {
    hooks.onPhase?.('search');
    const found = await searchTransfer(context, { ...settings, budget: settings.budget ?? DEFAULT_SEARCH_BUDGET }, hooks);
    fixed = found.settings;
    search = found.report;
  }
  return transferWith(context, fixed, backend, hooks, search);
}

async function transferWith(
  context: TransferContext,
  settings: TransferSettings & { strategy: TransferStrategyName },
  backend: BackendInfo,
  hooks: TransferHooks,
  search: SearchReport | undefined,
): Promise<TransferResult> {
  const { prepared, alignment, sourceEvents } = context;
  const { source, target } = prepared;
  const nTargetUsers = alignment.targetUsers;
  const nTargetItems = alignment.targetItems;
  const config = transferConfig(source.config, settings);

  const events = trainingEvents(config, target.train, target.validation);
  const validation = events.validation && evaluationData(events.train, events.validation, nTargetUsers, nTargetItems);
  const test = evaluationData(concatExamples(target.train, target.validation), target.test, nTargetUsers, nTargetItems);

  hooks.onPhase?.('transfer');
  let model: TwoTowerModel | undefined;
  let baseline: TwoTowerModel | undefined;
  try {
    const fitted = await fitTransferred(context, config, settings, events.train, validation, settings.training, settings.seed, hooks);
    model = fitted.model;
    const { strategy, training } = fitted;
    if (training.aborted) throw abortError(hooks.signal);

    hooks.onPhase?.('baseline');
    const baselineConfig = { ...transferConfig(source.config, { ...settings, model: undefined }), ...(settings.baseline ? settings.baseline.model : settings.model) };
    const baselineEvents = trainingEvents(baselineConfig, target.train, target.validation);
    const baselineValidation = baselineEvents.validation && evaluationData(baselineEvents.train, baselineEvents.validation, nTargetUsers, nTargetItems);
    const baselineFit = await fitTargetOnly(context, baselineConfig, baselineEvents.train, baselineValidation, settings.baseline?.training ?? settings.training, settings.seed, hooks);
    baseline = baselineFit.model;
    const baselineTraining = baselineFit.training;
    if (baselineTraining.aborted) throw abortError(hooks.signal);

    hooks.onPhase?.('evaluation');
    setUserHistoriesFrom(model, sourceEvents, target.train, target.validation);
    setUserHistoriesFrom(baseline, target.train, target.validation);
    const transferred = evaluateModel(model, test, settings.evaluation, nTargetItems);
    const baselineScorer = withPopularityFallback(modelScorer(baseline), test.popularity, test.trainHistories.offsets);
    const baselineReport = evaluate(baselineScorer, test, { ...settings.evaluation, users: transferred.model.perUser.users });
    const comparison = compareWithBaseline(transferred.model, baselineReport, transferred.popularity, { seed: settings.evaluation.seed });
    const report: TransferReport = {
      ...(search ? { search } : {}),
      strategy: strategy.name,
      frozen: strategy.describe(model),
      freezeLayers: strategy.name === 'PARTIAL' ? (settings.freezeLayers ?? 1) : undefined,
      replayWeight: fitted.replayed ? settings.replayWeight : 0,
      overlap: overlapByHistory(alignment, target.coldStartTestUsers),
      ...comparison,
      dropped: { ...target.dropped },
      coldStart: { fromTestFile: target.coldStartTestUsers, carve: prepared.coldStartCarve ?? { share: 0, seed: settings.seed, users: prepared.coldStartTestUsers } },
    };
    const trained = collectTrainedModel(model, {
      config: {
        model: config,
        training: settings.training,
        evaluation: settings.evaluation,
        split: target.split,
        strategy: strategy.name,
        ...(search ? { chosenBy: 'AUTO', budget: search.budget } : {}),
        freezeLayers: report.freezeLayers,
        replayWeight: report.replayWeight,
        replayFraction: settings.replayFraction,
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
    model?.dispose();
    baseline?.dispose();
  }
}

/** The transferred model's config: the source's, with the run's seed, token dropout, item bias and overrides. */
export function transferConfig(sourceConfig: TwoTowerConfig, settings: Pick<TransferSettings, 'tokenDropout' | 'seed' | 'itemBias' | 'model'>): TwoTowerConfig {
  return {
    ...sourceConfig,
    tokenDropout: settings.tokenDropout ?? sourceConfig.tokenDropout,
    seed: settings.seed,
    ...(settings.itemBias ? { itemBias: true, itemBiasLearningRate: settings.itemBias.learningRate ?? sourceConfig.itemBiasLearningRate } : {}),
    ...settings.model,
  };
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
