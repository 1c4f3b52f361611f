import { GraftError } from '../errors.js';
import { evaluate, type EvaluationData, type EvaluationReport } from '../evaluation/evaluate.js';
import { pairedBootstrap } from '../evaluation/paired-bootstrap.js';
import { modelObjective, type TunedSetting } from '../model/objective.js';
import type { TwoTowerModel } from '../model/two-tower.model.js';
import type { SearchReport, SearchTrialRecord } from '../transfer/transfer-report.js';
import { denseLayersOf } from '../transfer/transfer-strategy.js';
import type { TransferStrategyName } from '../transfer/transfer-strategy.js';
import { formatSearchBudget, type SearchBudget } from '../tuning/search-budget.js';
import { candidateSampler, describeCandidate, targetOnlySearchSpace, transferSearchSpace, type Candidate, type SearchSpace } from '../tuning/search-space.js';
import { successiveHalving, type Trial } from '../tuning/successive-halving.js';
import { evaluationData } from './evaluation-data.js';
import { modelScorer } from './fit-and-evaluate.js';
import type { EvaluationSettings, TrainingSettings } from './model-settings.js';
import type { Examples } from './prepared-domain.js';
import { createStrategy } from '../transfer/strategies.js';
import { fitStrategy, fitTargetOnly, type ModelOverrides, type TransferContext } from './transfer-candidate.js';
import { abortError, transferConfig, type TransferHooks, type TransferSettings } from './transfer.workflow.js';

/** η: each rung keeps the top third and gives it three times the budget. */
export const SEARCH_ETA = 3;
/** Rungs: budgets of 1x, 3x and 9x the objective's first-rung epochs. */
export const SEARCH_RUNGS = 3;
/**
 * How trials are ranked: NDCG@10 on the validation carve under the run's own evaluation
 * protocol (full, or sampled with the run's negatives and seed), so the search ranks
 * configurations the way the test split will judge the winner; finer than HR@10 at this depth.
 * Scored on every carve user while users x items stays within `SEARCH_SCORED_PAIRS` (then
 * the first users by row): the fewer users, the noisier the ranking (one event per user).
 */
export const SEARCH_METRIC = { ks: [10], metric: 'ndcg@10' };
/** At most this many user x item scores per validation pass (about 1.5 s of wasm matMul at dim 64). */
export const SEARCH_SCORED_PAIRS = 500_000_000;
/** Never fewer than this many validation users when the carve has them, whatever the catalogue's size. */
export const SEARCH_MIN_USERS = 2_000;

/** The search's metric in words for reports (`ndcg@10 (sampled, 999 negatives)`). */
export function describeSearchMetric(evaluation: Pick<EvaluationSettings, 'protocol' | 'negatives'>): string {
  return `${SEARCH_METRIC.metric} (${evaluation.protocol === 'full' ? 'full catalogue' : `sampled, ${evaluation.negatives} negatives`})`;
}

/** What AUTO decided: the best transfer, or no transfer (the tuned target-only model won on validation). */
export type SearchDecision = 'transfer' | 'target-only';

/**
 * AUTO: successive halving (`successiveHalving`) over the transfer's strategies, replay weight
 * and the objective's tuned settings, and the same search over target-only settings for the
 * baseline (the fair guard), each with `budget`. Every trial trains on the target's training
 * events without the validation carve (each user's last training event, users with at least
 * 2) and is scored on that carve; the test split is never read. Returns the fixed settings
 * that retrain both winners on all training data, and the decision. AUTO delivers the transfer
 * only when the best transfer's validation gain over the best target-only configuration is
 * significant by the guard's own test (paired bootstrap over the carve users, 95% interval
 * above 0); otherwise its result is no transfer (`decision: 'target-only'`), the tuned
 * target-only model, which the caller registers as a single-domain model of the target. With
 * one carve event per user the validation metric is noisy, and a transfer whose edge is
 * within that noise is one the guard would most likely flag on test: the user is better
 * served by a target-only model that can be activated.
 *
 * `candidates` narrows the transfer search to some strategies (e.g. `['JOINT']`: the tuned
 * JOINT reference of bench/transfer); by default every strategy the source allows.
 * `fixed` keeps some of the objective's tuned settings out of both searches, at the source
 * model's values (e.g. `['popularityWeight']`: plain joint ALS, the issue's reference).
 * `searchBaseline: false` skips the baseline's search (the baseline then keeps the run's
 * settings and the decision is 'transfer'): for a caller that wants the best transfer alone.
 */
export async function searchTransfer(
  context: TransferContext,
  settings: TransferSettings & { budget: SearchBudget },
  hooks: TransferHooks = {},
  options: { candidates?: readonly TransferStrategyName[]; searchBaseline?: boolean; fixed?: readonly TunedSetting[] } = {},
): Promise<{ settings: TransferSettings & { strategy: TransferStrategyName }; decision: SearchDecision; report: SearchReport }> {
  const started = performance.now();
  const { prepared, alignment, sourceEvents } = context;
  const { source, target } = prepared;
  const validationRows = target.validation;
  if (!validationRows || validationRows.users.length === 0) {
    throw new GraftError(
      'BAD_INPUT',
      `strategy AUTO scores its trials on a validation carve of the target's training data (each user's last event, users with at least 2), and "${target.split.kind}" left none; choose a strategy instead (e.g. --strategy feature-extraction)`,
    );
  }
  const objective = modelObjective(source.config.objective ?? 'softmax');
  const { report: validate, validationUsers } = validationScorer(target.train, validationRows, alignment.targetUsers, alignment.targetItems, settings.evaluation);
  // Per-user validation values of every trial, so the winners can be compared pair by pair.
  const perUser = new Map<string, Float32Array>();
  const trialKey = (search: 'transfer' | 'baseline', c: Candidate, epochs: number) => `${search} ${epochs} ${JSON.stringify(c)}`;
  const score = (search: 'transfer' | 'baseline', c: Candidate, epochs: number, model: TwoTowerModel): number => {
    const r = validate(model);
    perUser.set(trialKey(search, c, epochs), r.perUser.values[SEARCH_METRIC.metric]!);
    return r.metrics[SEARCH_METRIC.metric]!;
  };
  const sourceTuned: Candidate = {};
  const tuned = objective.tuned.settings.filter((name) => !options.fixed?.includes(name));
  const sourceConfig = transferConfig(source.config, settings);
  // A config stored before popularityWeight existed has none: 0, the model without the term.
  for (const name of tuned) sourceTuned[name] = name === 'learningRate' ? settings.training.learningRate : name === 'popularityWeight' ? (sourceConfig.popularityWeight ?? 0) : (sourceConfig[name] as number);
  const trainingFor = (c: Candidate, epochs: number): TrainingSettings => ({ ...settings.training, epochs, learningRate: c.learningRate ?? settings.training.learningRate, patience: 0 });
  const records: SearchTrialRecord[] = [];
  const record = (search: 'transfer' | 'baseline') => (t: Trial<Candidate>) => {
    const row: SearchTrialRecord = { search, config: t.config, label: describeCandidate(t.settings), settings: { ...t.settings }, rung: t.rung, epochs: t.resource, validation: t.score, seconds: t.seconds };
    records.push(row);
    hooks.onTrial?.(row);
  };
  const run = (space: SearchSpace, anchor: Candidate, evaluateTrial: (c: Candidate, epochs: number, signal: AbortSignal | undefined) => Promise<number>, search: 'transfer' | 'baseline') =>
    successiveHalving<Candidate>({
      sample: candidateSampler(space, settings.seed + (search === 'baseline' ? 1 : 0), anchor),
      evaluate: evaluateTrial,
      minResource: () => objective.tuned.firstRungEpochs,
      budget: settings.budget,
      eta: SEARCH_ETA,
      rungs: SEARCH_RUNGS,
      signal: hooks.signal,
      onTrial: record(search),
    });

  const denseLayers = denseLayersOf(source.config);
  const space = withSettings(narrowed(transferSearchSpace(objective, denseLayers, sourceEvents !== undefined), options.candidates), tuned);
  const first = space.strategies[0]!;
  const transferSearch = await run(
    space,
    { strategy: first.strategy, ...(first.freezeLayers !== undefined ? { freezeLayers: first.freezeLayers } : {}), ...(sourceEvents && !first.noReplay ? { replayWeight: settings.replayWeight } : {}), ...sourceTuned },
    async (c, epochs, signal) => {
      const config = transferConfig(source.config, { ...settings, model: overridesOf(c) });
      const strategy = createStrategy(c.strategy!, { freezeLayers: c.freezeLayers, pretrainedLearningRate: settings.pretrainedLearningRate });
      const fitted = await fitStrategy(context, strategy, {
        config,
        train: target.train,
        validation: undefined,
        settings: { replayWeight: c.replayWeight ?? 0, replayFraction: settings.replayFraction, itemInit: settings.itemInit, training: trainingFor(c, epochs), seed: settings.seed },
        hooks: { signal },
      });
      try {
        if (fitted.training.aborted) throw abortError(signal);
        return score('transfer', c, epochs, fitted.model);
      } finally {
        fitted.model.dispose();
      }
    },
    'transfer',
  );
  const baselineSearch = options.searchBaseline === false ? undefined : await run(
    withSettings(targetOnlySearchSpace(objective), tuned),
    sourceTuned,
    async (c, epochs, signal) => {
      const config = { ...transferConfig(source.config, { ...settings, model: undefined }), ...overridesOf(c) };
      const fitted = await fitTargetOnly(context, config, target.train, undefined as EvaluationData | undefined, trainingFor(c, epochs), settings.seed, { signal });
      try {
        if (fitted.training.aborted) throw abortError(signal);
        return score('baseline', c, epochs, fitted.model);
      } finally {
        fitted.model.dispose();
      }
    },
    'baseline',
  );

  const best = transferSearch.best;
  const bestBaseline = baselineSearch?.best;
  const validationGain = bestBaseline && validationGainOf(perUser.get(trialKey('transfer', best.settings, best.resource))!, perUser.get(trialKey('baseline', bestBaseline.settings, bestBaseline.resource))!, settings.evaluation.seed);
  const decision: SearchDecision = validationGain && !(validationGain.ci95[0] > 0) ? 'target-only' : 'transfer';
  const chosen: TransferSettings & { strategy: TransferStrategyName } = {
    ...settings,
    strategy: best.settings.strategy!,
    freezeLayers: best.settings.freezeLayers,
    replayWeight: best.settings.replayWeight ?? 0,
    model: overridesOf(best.settings),
    training: { ...settings.training, epochs: best.resource, learningRate: best.settings.learningRate ?? settings.training.learningRate },
    ...(bestBaseline
      ? {
          baseline: {
            model: overridesOf(bestBaseline.settings),
            training: { ...settings.training, epochs: bestBaseline.resource, learningRate: bestBaseline.settings.learningRate ?? settings.training.learningRate },
          },
        }
      : {}),
  };
  return {
    settings: chosen,
    decision,
    report: {
      budget: formatSearchBudget(settings.budget),
      eta: SEARCH_ETA,
      rungs: SEARCH_RUNGS,
      metric: describeSearchMetric(settings.evaluation),
      decision,
      validationUsers,
      seed: settings.seed,
      trials: records,
      transfer: { label: describeCandidate(best.settings), epochs: best.resource, validation: best.score },
      ...(bestBaseline ? { baseline: { label: describeCandidate(bestBaseline.settings), epochs: bestBaseline.resource, validation: bestBaseline.score } } : {}),
      ...(validationGain ? { validationGain } : {}),
      stoppedByClock: transferSearch.stoppedByClock || (baselineSearch?.stoppedByClock ?? false),
      seconds: (performance.now() - started) / 1000,
    },
  };
}

/**
 * Scores a model on the validation carve (`SEARCH_METRIC` under `evaluation`'s protocol and
 * seed): histories and seen items from `train` only, candidates the first `items` rows.
 */
export function validationScorer(
  train: Examples,
  validationRows: Examples,
  users: number,
  items: number,
  evaluation: Pick<EvaluationSettings, 'protocol' | 'negatives' | 'seed'>,
): { score: (model: TwoTowerModel) => number; report: (model: TwoTowerModel) => EvaluationReport; validationUsers: number } {
  const validation = evaluationData(train, validationRows, users, items);
  const maxUsers = Math.max(SEARCH_MIN_USERS, Math.floor(SEARCH_SCORED_PAIRS / Math.max(1, items)));
  const chosen = firstUsers(validationRows.users, maxUsers);
  const options = { protocol: evaluation.protocol, negatives: evaluation.negatives, ks: SEARCH_METRIC.ks, seed: evaluation.seed, users: chosen };
  const report = (model: TwoTowerModel) => evaluate(modelScorer(model, items), validation, options);
  return { score: (model) => report(model).metrics[SEARCH_METRIC.metric]!, report, validationUsers: chosen.length };
}

/** The transfer's validation gain over the baseline, user by user: the mean and its paired bootstrap 95% interval (the guard's test). */
function validationGainOf(transfer: Float32Array, baseline: Float32Array, seed: number): { value: number; ci95: [number, number] } {
  const { mean, ci } = pairedBootstrap(transfer, baseline, { seed });
  return { value: mean, ci95: ci };
}

/** The space with only the `candidates` strategies (all when undefined); BAD_INPUT when none is left. */
function narrowed(space: SearchSpace, candidates: readonly TransferStrategyName[] | undefined): SearchSpace {
  if (!candidates) return space;
  const strategies = space.strategies.filter((s) => candidates.includes(s.strategy));
  if (strategies.length === 0) {
    throw new GraftError('BAD_INPUT', `AUTO's candidates [${candidates.join(', ')}] leave nothing to search for this source (it allows ${space.strategies.map((s) => s.strategy).join(', ')}); name one of those`);
  }
  return { ...space, strategies, replay: space.replay && strategies.some((s) => !s.noReplay) };
}

/** The space searching only `settings` of the objective's tuned ones. */
function withSettings(space: SearchSpace, settings: readonly TunedSetting[]): SearchSpace {
  return { ...space, settings: space.settings.filter((name) => settings.includes(name)) };
}

/** The model settings a candidate changes (its learning rate goes to training). */
export function overridesOf(c: Candidate): ModelOverrides {
  const out: ModelOverrides = {};
  if (c.alsAlpha !== undefined) out.alsAlpha = c.alsAlpha;
  if (c.alsRegularization !== undefined) out.alsRegularization = c.alsRegularization;
  if (c.temperature !== undefined) out.temperature = c.temperature;
  if (c.l2 !== undefined) out.l2 = c.l2;
  if (c.popularityWeight !== undefined) out.popularityWeight = c.popularityWeight;
  return out;
}

/** The distinct users of `users`, ascending, at most `max` of them (deterministic). */
function firstUsers(users: Int32Array, max: number): Int32Array {
  const distinct = Int32Array.from(new Set(users)).sort();
  return distinct.length <= max ? distinct : distinct.subarray(0, max);
}
