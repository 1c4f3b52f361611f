import { defaultOf } from './settings/index.js';
import { GraftError } from '../errors.js';
import { evaluate } from '../evaluation/evaluate.js';
import type { Scorer } from '../evaluation/scorer.js';
import { initBackend } from '../model/backend.js';
import type { TokenBags } from '../model/token-hash.js';
import { TwoTowerModel, type TwoTowerConfig } from '../model/two-tower.model.js';
import type { NamedWeight } from '../model/named-weight.js';
import { alignDomains, mapSourceInteractions, type Alignment } from '../transfer/alignment.js';
import type { NewItemInit } from '../transfer/item-init.js';
import { createStrategy } from '../transfer/strategies.js';
import { compareWithBaseline, compareWithReference, type ColdStartCarve, type ReferenceComparison, type TransferReport } from '../transfer/transfer-report.js';
import type { TransferStrategyName } from '../transfer/transfer-strategy.js';
import { evaluationData } from './evaluation-data.js';
import { abortError, fitStrategy, perEpoch, type FittedStrategy, type StrategyRun } from './fit-strategy.js';
import { evaluateModel, fitModel, modelScorer, setUserHistoriesFrom, trainingEvents, type TrainingHooks } from './fit-and-evaluate.js';
import { towerTokensFor, type EvaluationSettings, type TrainingSettings } from './model-settings.js';
import { concatExamples, type Examples, type PreparedDomain } from './prepared-domain.js';
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
  strategy: TransferStrategyName;
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
  training: TrainingSettings;
  evaluation: EvaluationSettings;
  seed: number;
  device?: 'AUTO' | 'CPU' | 'GPU';
}

export const DEFAULT_TRANSFER: Omit<TransferSettings, 'strategy' | 'training' | 'evaluation' | 'seed'> & { replayWeight: number; replayFraction: number } = {
  replayWeight: defaultOf('replayWeight'),
  replayFraction: defaultOf('replayFraction'),
};

export interface TransferHooks extends TrainingHooks {
  /** Called when the run moves to the next model: the transferred one, the baseline, the JOINT reference (when on), then evaluation. */
  onPhase?: (phase: 'transfer' | 'baseline' | 'joint' | 'evaluation') => void;
}

export interface TransferResult {
  trained: TrainedModel;
  report: TransferReport;
}

/**
 * Grafts the source model onto the target domain with a strategy, fine-tunes it (mixing in
 * replayed source events), or with JOINT trains a model from scratch on both domains' events;
 * trains a target-only baseline with the same budget (and, for a grafting strategy, the JOINT
 * reference unless `jointReference` is off), and compares them on the same target test users.
 * Pure computation: no database access.
 */
export async function transfer(prepared: PreparedTransfer, settings: TransferSettings, hooks: TransferHooks = {}): Promise<TransferResult> {
  const { source, target } = prepared;
  if (target.test.users.length === 0) {
    throw new GraftError(
      'BAD_INPUT',
      `the target split (${describeSplit(target)}) has no test interactions, so the transfer could not be compared with its baseline; use --split loo, --test-file F or a cold-start share above 0`,
    );
  }
  const backend = await initBackend({ device: settings.device });
  const alignment = alignDomains(source, target);
  const strategy = createStrategy(settings.strategy, { freezeLayers: settings.freezeLayers, pretrainedLearningRate: settings.pretrainedLearningRate });
  const nTargetUsers = alignment.targetUsers;
  const nTargetItems = alignment.targetItems;
  const config: TwoTowerConfig = {
    ...source.config,
    tokenDropout: settings.tokenDropout ?? source.config.tokenDropout,
    seed: settings.seed,
    ...(settings.itemBias ? { itemBias: true, itemBiasLearningRate: settings.itemBias.learningRate ?? source.config.itemBiasLearningRate } : {}),
  };

  const events = trainingEvents(config, target.train, target.validation);
  const validation = events.validation && evaluationData(events.train, events.validation, nTargetUsers, nTargetItems);
  const test = evaluationData(concatExamples(target.train, target.validation), target.test, nTargetUsers, nTargetItems);

  const itemTokens = alignedItemTokens(source, target, alignment);
  const mappedSource = source.events.users.length > 0 ? mapSourceInteractions(alignment, source.events) : undefined;
  const run: StrategyRun = { prepared, alignment, config, itemTokens, sourceEvents: mappedSource, train: events.train, validation, settings, hooks };
  const withReference = (settings.jointReference ?? defaultOf<boolean>('jointReference')) && strategy.start === 'pretrained';
  let fitted: FittedStrategy | undefined;
  let baseline: TwoTowerModel | undefined;
  let joint: FittedStrategy | undefined;
  try {
    hooks.onPhase?.('transfer');
    fitted = await fitStrategy(strategy, run);
    const { model, training, mix } = fitted;

    hooks.onPhase?.('baseline');
    baseline = TwoTowerModel.create({ ...config, users: nTargetUsers, items: nTargetItems }, towerTokensFor(config, target.itemTokens));
    setUserHistoriesFrom(baseline, events.train);
    const baselineTraining = await fitModel(baseline, events.train, validation, settings.training, settings.seed, hooks);
    if (baselineTraining.aborted) throw abortError(hooks.signal);

    if (withReference) {
      hooks.onPhase?.('joint');
      joint = await fitStrategy(createStrategy('JOINT'), run);
    }

    hooks.onPhase?.('evaluation');
    setUserHistoriesFrom(model, mappedSource, target.train, target.validation);
    setUserHistoriesFrom(baseline, target.train, target.validation);
    const transferred = evaluateModel(model, test, settings.evaluation, nTargetItems);
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
      strategy: strategy.name,
      frozen: strategy.describe(model),
      freezeLayers: strategy.name === 'PARTIAL' ? (settings.freezeLayers ?? 1) : undefined,
      replayWeight: strategy.start === 'pretrained' && mix ? mix.weight : 0,
      start: strategy.start,
      sourceEvents: mix && mappedSource ? { events: mappedSource.users.length, weight: mix.weight, perEpoch: perEpoch(mix, mappedSource.users.length, events.train.users.length, model) } : { events: 0, weight: 0, perEpoch: 0 },
      overlap: overlapByHistory(alignment, target.coldStartTestUsers),
      ...comparison,
      ...(reference ? { joint: reference } : {}),
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
        freezeLayers: report.freezeLayers,
        replayWeight: report.replayWeight,
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
  }
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

/** Token bags for every aligned item row: target items' bags, then the source items'. */
function alignedItemTokens(source: PreparedSource, target: PreparedDomain, alignment: Alignment): TokenBags | undefined {
  if (!source.itemTokens && !target.itemTokens) return undefined;
  const rows = alignment.itemDbIds.length;
  const offsets = new Int32Array(rows + 1);
  const ids: number[] = [];
  for (let r = 0; r < rows; r++) {
    const bags = r < alignment.targetItems ? target.itemTokens : source.itemTokens;
    const entity = r < alignment.targetItems ? r : alignment.itemSourceRow[r]!;
    if (bags) for (let k = bags.offsets[entity]!; k < bags.offsets[entity + 1]!; k++) ids.push(bags.ids[k]!);
    offsets[r + 1] = ids.length;
  }
  return { offsets, ids: Int32Array.from(ids) };
}
