import { GraftError } from '../errors.js';
import { evaluate, evaluateItemBiases, evaluateScoreMixes, type EvaluationData, type ScoreMix } from '../evaluation/evaluate.js';
import { pairedBootstrap } from '../evaluation/paired-bootstrap.js';
import { modelObjective, takesPopularityTerm, type ModelObjective, type ModelScoring, type TunedSetting } from '../model/objective.js';
import type { TrainingObjective } from '../model/training-objective.js';
import type { TwoTowerConfig } from '../model/two-tower.model.js';
import type { TwoTowerModel } from '../model/two-tower.model.js';
import type { SearchReport, SearchTrialRecord } from '../transfer/transfer-report.js';
import { denseLayersOf } from '../transfer/transfer-strategy.js';
import type { TransferStrategyName } from '../transfer/transfer-strategy.js';
import { formatSearchBudget, type SearchBudget } from '../tuning/search-budget.js';
import { candidateSampler, describeCandidate, targetOnlySearchSpace, transferSearchSpace, type Candidate, type SearchSpace } from '../tuning/search-space.js';
import { successiveHalving, type Trial } from '../tuning/successive-halving.js';
import { evaluationData } from './evaluation-data.js';
import { objectiveNamed } from '../training/objectives/index.js';
import { holdsCarveOut } from './fit-and-evaluate.js';
import { biasedEmbeddingScorer } from '../evaluation/embedding.scorer.js';
import { configForObjective, type EvaluationSettings, type TrainingSettings } from './model-settings.js';
import type { Examples } from './prepared-domain.js';
import { createStrategy } from '../transfer/strategies.js';
import { fitStrategy, fitTargetOnly, withOverrides, type ModelOverrides, type TransferContext } from './transfer-candidate.js';
import { UNREGISTERED_SOURCE_ID } from './retrained-source.js';
import { bestBlend, blendKind, blendRefits, blendScorer, fitWithinClock, keepForBlend, type BlendableTrial, type KeptTrial } from './blend-search.js';
import { isBlendable, scaledConcat, type RowVectors } from './blend.js';
import { itemEventCounts } from '../training/popularity-bias.js';
import { describeSearchMetric, SEARCH_METRIC, selectionUsers } from './selection-metric.js';
import { abortError, transferConfig, type TransferHooks, type TransferSettings } from './transfer.workflow.js';

/** η: each rung keeps the top third and gives it three times the budget. */
export const SEARCH_ETA = 3;
/** Rungs: budgets of 1x, 3x and 9x the objective's first-rung epochs. */
export const SEARCH_RUNGS = 3;
export { SEARCH_METRIC, SEARCH_SCORED_PAIRS, SEARCH_MIN_USERS, describeSearchMetric } from './selection-metric.js';

/** What AUTO decided: the best transfer, or no transfer (the tuned target-only model won on validation). */
export type SearchDecision = 'transfer' | 'target-only';

/**
 * AUTO: successive halving (`successiveHalving`) over the transfer's strategies, replay weight
 * and the objective's tuned settings, and the same search over target-only settings for the
 * baseline (the fair guard), each with `budget`. Every trial trains on the target's training
 * events without the validation carve (each user's last training event, users with at least
 * 2) and is scored on that carve (the softmax towers stop early on it within the rung's budget,
 * as the delivered model does: `trialFit`); the test split is never read. Returns the fixed settings
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
 * `fixed` keeps some of the objective's tuned settings (or the profiled popularity weight) out of both searches, at the source
 * model's values (e.g. `['popularityWeight']`: plain joint ALS, the issue's reference).
 * `searchBaseline: false` skips the baseline's search (the baseline then keeps the run's
 * settings and the decision is 'transfer'): for a caller that wants the best transfer alone.
 * After a 'transfer' verdict with an implicit-ALS winner, the winner blended with the best
 * trial of each other kind is scored on the carve (`blend-search.ts`); the best blend goes
 * into the settings (`blend`, its partner's context as `blendContext`) when its gain over the
 * winner alone is significant. `blend: false` turns that off.
 */
export async function searchTransfer(
  context: TransferContext,
  settings: TransferSettings & { budget: SearchBudget },
  hooks: TransferHooks = {},
  options: { candidates?: readonly TransferStrategyName[]; searchBaseline?: boolean; fixed?: ReadonlyArray<TunedSetting | 'popularityWeight'>; alternatives?: readonly TransferContext[]; blend?: boolean } = {},
): Promise<{ settings: TransferSettings & { strategy: TransferStrategyName }; decision: SearchDecision; report: SearchReport; context: TransferContext; blendContext?: TransferContext }> {
  const started = performance.now();
  const { prepared, alignment } = context;
  const { source, target } = prepared;
  const validationRows = target.validation;
  if (!validationRows || validationRows.users.length === 0) {
    throw new GraftError(
      'BAD_INPUT',
      `strategy AUTO scores its trials on a validation carve of the target's training data (each user's last event, users with at least 2), and "${target.split.kind}" left none; choose a strategy instead (e.g. --strategy feature-extraction)`,
    );
  }
  const objective = modelObjective(source.config.objective ?? 'softmax');
  const { scoreAt, scoreMixes, validationUsers, carve } = validationScorer(target.train, validationRows, alignment.targetUsers, alignment.targetItems, settings.evaluation);
  // Per-user validation values of every trial, so the winners can be compared pair by pair.
  const perUser = new Map<string, Float32Array>();
  const trialKey = (search: 'transfer' | 'baseline', c: Candidate, epochs: number) => `${search} ${epochs} ${JSON.stringify(c)}`;
  // The popularity term's weight, profiled on every trial whose model takes it (not with `fixed: ['popularityWeight']`).
  const profile = options.fixed?.includes('popularityWeight') ? undefined : popularityProfiler(target.train, alignment.targetItems);
  // What each trial's score profiled (the popularity weight), keyed by trial.
  const profiled = new Map<string, ProfiledSettings>();
  // The best trial of every kind whose model a blend can take (implicit-ALS rows), with its carve vectors (see `bestBlend`).
  const blendable = new Map<string, KeptTrial>();
  // Every blendable trial (not only each kind's best): the blend fits a kind's best few at the top rung (`blendRefits`).
  const blendableTrials: BlendableTrial[] = [];
  const score = (search: 'transfer' | 'baseline', c: Candidate, epochs: number, model: TwoTowerModel): number => {
    const key = trialKey(search, c, epochs);
    const { score: r, delivered, profiled: extra } = profiledScore(model, scoreAt, profile);
    // The guard's paired test compares what would be delivered (a softmax trial with its profiled term).
    perUser.set(key, delivered.perUser);
    if (Object.keys(extra).length > 0) profiled.set(key, extra);
    // Labelled as the trial's record is (with what was profiled).
    const labelled = { ...c, ...extra };
    keepForBlend(blendable, { search, settings: c, epochs, key, label: search === 'transfer' ? labelOf(labelled) : describeCandidate(labelled), score: r.value }, model, alignment.targetUsers, alignment.targetItems);
    if (isBlendable(model.config)) blendableTrials.push({ search, settings: c, epochs, score: r.value });
    return r.value;
  };
  // A trial's model: without the term when it is profiled (its weight is then the profile's choice).
  const trialOverrides = (c: Candidate): ModelOverrides => ({ ...overridesOf(c), ...(profile !== undefined ? { popularityWeight: 0 } : {}) });
  const withProfiled = (search: 'transfer' | 'baseline', t: { settings: Candidate; resource: number }): Candidate => ({ ...t.settings, ...profiled.get(trialKey(search, t.settings, t.resource)) });
  const tunedOf = (o: ModelObjective) => o.tuned.settings.filter((name) => !options.fixed?.includes(name));
  const tunedValues = (o: ModelObjective, config: TwoTowerConfig): Candidate => {
    const out: Candidate = {};
    for (const name of tunedOf(o)) out[name] = name === 'learningRate' ? settings.training.learningRate : (config[name] as number);
    return out;
  };
  const tuned = tunedOf(objective);
  const sourceTuned = tunedValues(objective, transferConfig(source.config, settings));
  // A trial stops early on the carve where the delivered model does (`trialFit`).
  const trainingFor = (c: Candidate, epochs: number, config: TwoTowerConfig) => trialFit(config, carve, { ...settings.training, epochs, learningRate: c.learningRate ?? settings.training.learningRate });
  const records: SearchTrialRecord[] = [];
  // `label`: a trial's words (an alternative source's trials say which source they graft).
  const record = (search: 'transfer' | 'baseline', label: (c: Candidate) => string = describeCandidate) => (t: Trial<Candidate>) => {
    const settings = withProfiled(search, t);
    const row: SearchTrialRecord = { search, config: t.config, label: label(settings), settings: { ...settings }, rung: t.rung, epochs: t.resource, validation: t.score, seconds: t.seconds };
    records.push(row);
    hooks.onTrial?.(row);
  };

  // The source's config with the run's settings and no search override: every candidate's starting point.
  const baseConfig = transferConfig(source.config, { ...settings, model: undefined });
  /** What the transfer search needs of one source (the given one, or an alternative: the same domain's rows, another objective). */
  const planFor = (ctx: TransferContext) => {
    const from = ctx.prepared.source;
    const own = modelObjective(from.config.objective ?? 'softmax');
    const ownBase = transferConfig(from.config, { ...settings, model: undefined });
    const ownSourceTuned = tunedValues(own, transferConfig(from.config, settings));
    const space = withSettings(narrowed(transferSearchSpace(own, denseLayersOf(from.config), ctx.sourceEvents !== undefined, layeredObjectiveOver(own)), options.candidates), tunedOf(own));
    const first = space.strategies[0]!;
    // The first draws: the source objective's defaults with the first strategy, then each other objective's (a fresh top over the source's rows).
    const anchors: Candidate[] = [
      { strategy: first.strategy, ...(first.freezeLayers !== undefined ? { freezeLayers: first.freezeLayers } : {}), ...(ctx.sourceEvents && !first.noReplay ? { replayWeight: settings.replayWeight } : {}), ...ownSourceTuned },
      ...space.strategies
        .filter((s) => s.objective && s !== first)
        .map((s) => ({
          strategy: s.strategy,
          ...(s.freezeLayers !== undefined ? { freezeLayers: s.freezeLayers } : {}),
          ...objectiveAnchor(ownBase, s.objective!, settings.training.learningRate),
          ...(ctx.sourceEvents && !s.noReplay ? { replayWeight: settings.replayWeight } : {}),
        })),
    ];
    return { ctx, own, anchors, sample: candidateSampler(space, settings.seed, anchors) };
  };
  // One search over every source's candidates: a candidate of an alternative carries `source`
  // (its index, 1..), so ASHA ranks and promotes them all together and the budget is the search's,
  // not one per source (see `unionSampler`).
  const plans = [context, ...(options.alternatives ?? [])]
    // An alternative source that allows none of the given candidates is not searched (the given source must allow one).
    .filter((ctx, index) => index === 0 || !options.candidates || allowsAny(ctx, options.candidates))
    .map(planFor);
  const planOf = (c: Candidate) => plans[c.source ?? 0]!;
  const labelOf = (c: Candidate) => {
    const { source: index, ...rest } = c;
    return `${index ? `from ${describeSource(plans[index]!.ctx.prepared.source)}: ` : ''}${describeCandidate(rest)}`;
  };
  const evaluateTransfer = async (c: Candidate, epochs: number, signal: AbortSignal | undefined): Promise<number> => {
    const { ctx } = planOf(c);
    const { source: _, ...settingsOfC } = c;
    const config = transferConfig(ctx.prepared.source.config, { ...settings, model: trialOverrides(settingsOfC) });
    const strategy = createStrategy(c.strategy!, { freezeLayers: c.freezeLayers, pretrainedLearningRate: settings.pretrainedLearningRate });
    const fit = trainingFor(c, epochs, config);
    const fitted = await fitStrategy(ctx, strategy, {
      config,
      train: target.train,
      validation: fit.validation,
      settings: { replayWeight: c.replayWeight ?? 0, replayFraction: settings.replayFraction, itemInit: settings.itemInit, training: fit.training, seed: settings.seed },
      hooks: { signal },
    });
    try {
      if (fitted.training.aborted) throw abortError(signal);
      return score('transfer', c, epochs, fitted.model);
    } finally {
      fitted.model.dispose();
    }
  };
  const transferSearch = await successiveHalving<Candidate>({
    sample: unionSampler(plans),
    evaluate: evaluateTransfer,
    minResource: (c) => firstRungOf(c, planOf(c).own),
    budget: settings.budget,
    eta: SEARCH_ETA,
    rungs: SEARCH_RUNGS,
    signal: hooks.signal,
    onTrial: record('transfer', labelOf),
  });
  const winnerPlan = planOf(transferSearch.best.settings);
  // The fair guard: the same search over target-only settings, across the objectives (the
  // model family that wins alone differs from data to data), the source's own first.
  const baselineObjectives = searchedObjectives(objective);
  const evaluateBaseline = async (c: Candidate, epochs: number, signal: AbortSignal | undefined): Promise<number> => {
    const config = withOverrides(baseConfig, trialOverrides(c));
    const fit = trainingFor(c, epochs, config);
    const fitted = await fitTargetOnly(context, config, target.train, fit.validation, fit.training, settings.seed, { signal }, settings.evaluation);
    try {
      if (fitted.training.aborted) throw abortError(signal);
      return score('baseline', c, epochs, fitted.model);
    } finally {
      fitted.model.dispose();
    }
  };
  const baselineSearch = options.searchBaseline === false ? undefined : await successiveHalving<Candidate>({
    sample: candidateSampler(withSettings(targetOnlySearchSpace(objective, baselineObjectives), tuned), settings.seed + 1, objectiveAnchors(baseConfig, baselineObjectives, settings.training.learningRate, sourceTuned)),
    evaluate: evaluateBaseline,
    minResource: (c) => firstRungOf(c, objective),
    budget: settings.budget,
    eta: SEARCH_ETA,
    rungs: SEARCH_RUNGS,
    signal: hooks.signal,
    onTrial: record('baseline'),
  });

  const best = transferSearch.best;
  const bestBaseline = baselineSearch?.best;
  // The winners with the popularity weight their profile chose (retrained with it).
  const bestSettings = withProfiled('transfer', best);
  const bestBaselineSettings = bestBaseline && withProfiled('baseline', bestBaseline);
  const validationGain = bestBaseline && validationGainOf(perUser.get(trialKey('transfer', best.settings, best.resource))!, perUser.get(trialKey('baseline', bestBaseline.settings, bestBaseline.resource))!, settings.evaluation.seed);
  const decision: SearchDecision = validationGain && !(validationGain.ci95[0] > 0) ? 'target-only' : 'transfer';
  // A delivered transfer of implicit-ALS rows may do better blended with the best trial of another kind.
  const winnerKey = trialKey('transfer', best.settings, best.resource);
  const blending = decision === 'transfer' && options.blend !== false && [...blendable.values()].some((t) => t.key === winnerKey);
  let refitsStoppedByClock = false;
  if (blending) {
    // A partner's kind may have lost the promotions to the winner's (JOINT's first rung of 2
    // sweeps is far from what it reaches at 18), and its best configuration at 2 sweeps need
    // not be its best at 18: its best few configurations are fitted at the top rung's budget,
    // and the best of the kind alone is kept (`keepForBlend`).
    const topOf = (t: BlendableTrial) => firstRungOf(t.settings, t.search === 'transfer' ? planOf(t.settings).own : objective) * SEARCH_ETA ** (SEARCH_RUNGS - 1);
    const winnerTrial = [...blendable.values()].find((t) => t.key === winnerKey)!;
    // A minutes budget gives the refits a clock of their own, as each search has one.
    const deadline = settings.budget.kind === 'minutes' ? performance.now() + settings.budget.minutes * 60_000 : Number.POSITIVE_INFINITY;
    const refits = await fitWithinClock(
      blendRefits(blendableTrials, blendKind(winnerTrial.search, winnerTrial.settings), topOf),
      async (t, signal) => {
        const top = topOf(t);
        const started = performance.now();
        const value = await (t.search === 'transfer' ? evaluateTransfer : evaluateBaseline)(t.settings, top, signal);
        const fitted = withProfiled(t.search, { settings: t.settings, resource: top });
        const searched = JSON.stringify(withProfiled(t.search, { settings: t.settings, resource: t.epochs }));
        const row: SearchTrialRecord = {
          search: t.search,
          config: records.find((r) => r.search === t.search && r.epochs === t.epochs && JSON.stringify(r.settings) === searched)?.config ?? -1,
          label: t.search === 'transfer' ? labelOf(fitted) : describeCandidate(fitted),
          settings: { ...fitted },
          rung: SEARCH_RUNGS - 1,
          epochs: top,
          validation: value,
          seconds: (performance.now() - started) / 1000,
          forBlend: true,
        };
        records.push(row);
        hooks.onTrial?.(row);
      },
      { deadline, signal: hooks.signal },
    );
    refitsStoppedByClock = refits.stoppedByClock;
  }
  const blend =
    blending
      ? bestBlend(blendable, winnerKey, perUser.get(winnerKey)!, blendScorer(scoreMixes, profile ? popularityBiases(target.train, alignment.targetItems) : [undefined], profile ? POPULARITY_PROFILE : [0], alignment), settings.evaluation.seed)
      : undefined;
  const chosen: TransferSettings & { strategy: TransferStrategyName } = {
    ...settings,
    strategy: best.settings.strategy!,
    freezeLayers: best.settings.freezeLayers,
    replayWeight: best.settings.replayWeight ?? 0,
    model: overridesOf(bestSettings),
    training: { ...settings.training, epochs: best.resource, learningRate: best.settings.learningRate ?? settings.training.learningRate },
    ...(bestBaseline
      ? {
          baseline: {
            model: overridesOf(bestBaselineSettings!),
            training: { ...settings.training, epochs: bestBaseline.resource, learningRate: bestBaseline.settings.learningRate ?? settings.training.learningRate },
          },
        }
      : {}),
    ...(blend?.chosen
      ? {
          blend: {
            weight: blend.chosen.weight,
            popularityWeight: blend.chosen.beta,
            partner: {
              search: blend.chosen.partner.search,
              strategy: blend.chosen.partner.settings.strategy,
              freezeLayers: blend.chosen.partner.settings.freezeLayers,
              replayWeight: blend.chosen.partner.settings.replayWeight ?? 0,
              model: { ...overridesOf(blend.chosen.partner.settings), popularityWeight: 0 },
              training: { ...settings.training, epochs: blend.chosen.partner.epochs, learningRate: blend.chosen.partner.settings.learningRate ?? settings.training.learningRate },
            },
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
      transfer: { label: labelOf(bestSettings), epochs: best.resource, validation: best.score },
      ...(bestBaseline ? { baseline: { label: describeCandidate(bestBaselineSettings!), epochs: bestBaseline.resource, validation: bestBaseline.score } } : {}),
      ...(validationGain ? { validationGain } : {}),
      ...(blend ? { blend: blend.report } : {}),
      stoppedByClock: transferSearch.stoppedByClock || (baselineSearch?.stoppedByClock ?? false) || refitsStoppedByClock,
      seconds: (performance.now() - started) / 1000,
    },
    context: winnerPlan.ctx,
    ...(blend?.chosen ? { blendContext: blend.chosen.partner.search === 'transfer' ? planOf(blend.chosen.partner.settings).ctx : context } : {}),
  };
}

/**
 * How a trial of `config` is fitted within its rung's budget (`training.epochs`): as the
 * delivered model will be. An objective that stops early on the carve (the softmax towers:
 * gradient steps, the carve held out) gets it with the run's patience and keeps its best epoch,
 * so the trial is scored on the weights the winner's retrain delivers (the retrain early-stops
 * on the same carve within the same budget), not on its last epoch's, which at the top rung
 * may have overfitted. Others train the budget through without it (implicit ALS trains on the
 * carve; the hybrid would refit on it, and a trial must not have seen what it is scored on).
 */
export function trialFit(config: Pick<TwoTowerConfig, 'objective'>, carve: EvaluationData, training: TrainingSettings): { validation: EvaluationData | undefined; training: TrainingSettings } {
  const stopsEarly = holdsCarveOut(config) && training.patience > 0;
  return stopsEarly ? { validation: carve, training } : { validation: undefined, training: { ...training, patience: 0 } };
}

/**
 * The popularity term's weights β every trial whose model takes the term is scored at (score
 * u·v + β·log(1 + n_i)): 0, then ×√10 steps over three decades. The term does not change the
 * model, so the trial is fitted once and scored once per weight (one validation pass each),
 * and it keeps the best: no trial can do worse on validation than without the term, and the
 * term's weight does not take draws from the other settings (drawn as a setting, it cost the
 * Cloth search its winner: BENCHMARKS.md). How a trial is ranked: `profiledScore`.
 */
export const POPULARITY_PROFILE: readonly number[] = [0, 0.001, 0.00316, 0.01, 0.0316, 0.1, 0.316, 1];

/**
 * Scores a fitted model at every weight of `POPULARITY_PROFILE`, the term counted over the
 * trial's training events (`train`: the target's, as the fit counts them) on the first `items`
 * rows; returns the best score (ties: the smaller weight) and its weight. The towers run once
 * and, under the sampled protocol, the carve is ranked at all weights in one pass
 * (`evaluateItemBiases`).
 */
export function popularityProfiler(train: Pick<Examples, 'items'>, items: number): (model: TwoTowerModel | ModelVectors, scoreAt: ValidationScorer['scoreAt']) => { score: ValidationScore; beta: number; without: ValidationScore } {
  const biases = popularityBiases(train, items);
  return (model, scoreAt) => {
    const scores = scoreAt(model, biases);
    let best = 0;
    for (let n = 1; n < scores.length; n++) if (scores[n]!.value > scores[best]!.value) best = n;
    // POPULARITY_PROFILE[0] is 0: the model's score without the term.
    return { score: scores[best]!, beta: POPULARITY_PROFILE[best]!, without: scores[0]! };
  };
}

/** What a trial's score profiled, besides its drawn settings. */
export type ProfiledSettings = Pick<Candidate, 'popularityWeight'>;

/**
 * A trial's carve score and what is profiled rather than drawn: the popularity weight (with
 * `profile`, when the model takes the term: `takesPopularityTerm`). The weight found is the one the trial's settings
 * deliver. An ALS-rows trial is ranked at it; a softmax trial at its score without the term:
 * under the first rungs' one or three epochs the term made every softmax trial score about as
 * popularity does (Cloth full: most trials chose β 1), so successive halving cut the settings
 * that learn slowly and delivered a 1-epoch model 0.007 HR@10 below the search without the term
 * (BENCHMARKS.md); ALS rows are near their solution from the first rung. A hybrid trial is
 * scored with its top as trained (share 1); the delivered hybrid chooses its top's share on the
 * carve itself (`profileTopShares`): scoring every trial at six shares cost Cloth's AUTO run a
 * third more CPU. `delivered` is the score of what the settings deliver (with the weight
 * found): the guard compares the winners by it.
 */
export function profiledScore(
  model: TwoTowerModel,
  scoreAt: ValidationScorer['scoreAt'],
  profile: ReturnType<typeof popularityProfiler> | undefined,
): { score: ValidationScore; delivered: ValidationScore; profiled: ProfiledSettings } {
  // A model with a learned item bias cannot take the term (`takesPopularityTerm`).
  if (!profile || !takesPopularityTerm(model.config)) {
    const score = scoreAt(model, [undefined])[0]!;
    return { score, delivered: score, profiled: {} };
  }
  const found = profile(model, scoreAt);
  const rankedWithTerm = modelObjective(model.config.objective).alsRows;
  return { score: rankedWithTerm ? found.score : found.without, delivered: found.score, profiled: { popularityWeight: found.beta } };
}

/** The popularity term β·log(1 + n_i) over the first `items` rows at each weight of `POPULARITY_PROFILE` (β = 0: undefined, no term), n_i counted in `train`. */
export function popularityBiases(train: Pick<Examples, 'items'>, items: number): Array<Float32Array | undefined> {
  // Each event counts once (its items alone are passed, not its weights).
  const logCounts = Float32Array.from(itemEventCounts({ items: train.items }, items), (n) => Math.log1p(n));
  return POPULARITY_PROFILE.map((beta) => (beta === 0 ? undefined : logCounts.map((v) => beta * v)));
}

/** A model's score on the validation carve: `SEARCH_METRIC`, and its per-user values (for the guard's paired test). */
export interface ValidationScore {
  value: number;
  perUser: Float32Array;
}

/** Scores models on a validation carve (`validationScorer`). */
export interface ValidationScorer {
  /** The model's `SEARCH_METRIC`. */
  score: (model: TwoTowerModel) => number;
  /** The model's score at each item bias (a score term the model does not carry; `undefined`: none), its towers run once. */
  scoreAt: (model: TwoTowerModel | ModelVectors, itemBiases: readonly (Float32Array | undefined)[]) => ValidationScore[];
  /**
   * Scores of weighted sums of several models' inner products (`ScoreMix`: Σ_p w_p·(u_p·v_p) +
   * bias), the models' rows aligned: under the sampled protocol in one pass for every mix
   * (`evaluateScoreMixes`); under the full one, one pass per mix (weights must be >= 0).
   */
  scoreMixes: (parts: readonly ModelVectors[], mixes: readonly ScoreMix[]) => ValidationScore[];
  /** The carve as evaluation data (the training events' histories and popularity): what a trial early-stops on (`trialFit`). */
  carve: EvaluationData;
  /** carve users scored */
  validationUsers: number;
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
): ValidationScorer {
  const validation = evaluationData(train, validationRows, users, items);
  const chosen = selectionUsers(validationRows.users, items);
  const options = { protocol: evaluation.protocol, negatives: evaluation.negatives, ks: SEARCH_METRIC.ks, seed: evaluation.seed, users: chosen };
  const { metric } = SEARCH_METRIC;
  const scoreAt = (model: TwoTowerModel | ModelVectors, itemBiases: readonly (Float32Array | undefined)[]): ValidationScore[] => {
    const vectors = vectorsOf(model);
    if (options.protocol === 'sampled') {
      // One pass for every bias: the candidates' dot products once, ranked per bias.
      return evaluateItemBiases(vectors, validation, options, itemBiases).map((r) => ({ value: r.metrics[metric]!, perUser: r.perUser[metric]! }));
    }
    return itemBiases.map((bias) => {
      const r = evaluate(biasedEmbeddingScorer(vectors.users, vectors.items, vectors.dim, bias, items), validation, options);
      return { value: r.metrics[metric]!, perUser: r.perUser.values[metric]! };
    });
  };
  const scoreMixes = (parts: readonly ModelVectors[], mixes: readonly ScoreMix[]): ValidationScore[] => {
    if (options.protocol === 'sampled') return evaluateScoreMixes(parts, validation, options, mixes).map((r) => ({ value: r.metrics[metric]!, perUser: r.perUser[metric]! }));
    return mixes.map((mix) => {
      const scaled = scaledConcat(parts, mix.weights);
      const r = evaluate(biasedEmbeddingScorer(scaled.users, scaled.items, scaled.dim, mix.bias, items), validation, options);
      return { value: r.metrics[metric]!, perUser: r.perUser.values[metric]! };
    });
  };
  return { score: (model) => scoreAt(model, [undefined])[0]!.value, scoreAt, scoreMixes, validationUsers: chosen.length, carve: validation };
}

/**
 * The draws of a search over several sources' candidates: every source's anchors first (the
 * given source's, then each alternative's), then one random draw of each source in turn, each
 * from its own sampler (the given source's draws are the ones a search from it alone makes).
 * An alternative's candidates carry `source` (its index).
 */
function unionSampler(plans: ReadonlyArray<{ anchors: readonly Candidate[]; sample: (n: number) => Candidate }>): (n: number) => Candidate {
  const tag = (c: Candidate, index: number): Candidate => (index === 0 ? c : { ...c, source: index });
  if (plans.length === 1) return plans[0]!.sample;
  const anchors = plans.flatMap((p, index) => p.anchors.map((_, k) => ({ index, k })));
  const drawn = plans.map(() => 0);
  const order: Array<{ index: number; k: number }> = [];
  return (n) => {
    while (order.length <= n) {
      if (order.length < anchors.length) order.push(anchors[order.length]!);
      else {
        const index = (order.length - anchors.length) % plans.length;
        order.push({ index, k: plans[index]!.anchors.length + drawn[index]!++ });
      }
    }
    const { index, k } = order[n]!;
    return tag(plans[index]!.sample(k), index);
  };
}

/** Whether a source's transfer search space has any of `candidates`. */
function allowsAny(ctx: TransferContext, candidates: readonly TransferStrategyName[]): boolean {
  const own = modelObjective(ctx.prepared.source.config.objective ?? 'softmax');
  return transferSearchSpace(own, denseLayersOf(ctx.prepared.source.config), ctx.sourceEvents !== undefined, layeredObjectiveOver(own)).strategies.some((s) => candidates.includes(s.strategy));
}

/** An alternative source in a trial's label: its objective and model id (`implicit-als source 7f3c…`), or that AUTO retrained it in this run. */
function describeSource(source: { modelId: string; config: Pick<TwoTowerConfig, 'objective'> }): string {
  const objective = source.config.objective ?? 'softmax';
  return source.modelId === UNREGISTERED_SOURCE_ID ? `the ${objective} source retrained by AUTO` : `${objective} source ${source.modelId}`;
}

/** The transfer's validation gain over the baseline, user by user: the mean and its paired bootstrap 95% interval (the guard's test). */
function validationGainOf(transfer: Float32Array, baseline: Float32Array, seed: number): { value: number; ci95: [number, number] } {
  const { mean, ci } = pairedBootstrap(transfer, baseline, { seed });
  return { value: mean, ci95: ci };
}

/** The space with only the `candidates` strategies (all when undefined); BAD_INPUT when none is left. */
export function narrowed(space: SearchSpace, candidates: readonly TransferStrategyName[] | undefined): SearchSpace {
  if (!candidates) return space;
  const strategies = space.strategies.filter((s) => candidates.includes(s.strategy));
  if (strategies.length === 0) {
    throw new GraftError('BAD_INPUT', `AUTO's candidates [${candidates.join(', ')}] leave nothing to search for this source (it allows ${space.strategies.map((s) => s.strategy).join(', ')}); name one of those`);
  }
  return { ...space, strategies, replay: space.replay && strategies.some((s) => !s.noReplay) };
}

/**
 * The objectives a target-only search compares, `own` first: implicit ALS, the hybrid towers
 * and the softmax towers (each wins alone on some real data: BENCHMARKS.md).
 */
export function searchedObjectives(own: ModelObjective): ModelObjective[] {
  return [own, ...SEARCHED_OBJECTIVES.filter((name) => name !== own.name).map((name) => modelObjective(name))];
}

/** Every objective, cheapest to train first (the order of their anchors after the run's own). */
const SEARCHED_OBJECTIVES: readonly TrainingObjective[] = ['implicit-als', 'hybrid', 'softmax'];

/**
 * The first draws of a search over `objectives`: each objective at its settings in `base`
 * (re-shaped for it), `own` (the run's values) for the first, so the search starts from every
 * family's defaults and never ends below them on validation at the same budget. An objective
 * that offers several scorings (the softmax towers: cosine, inner product) starts once per
 * scoring (`base`'s for the run's objective, else its default, in the family's draw; the other
 * after every family's): which scoring fits depends on the data (BENCHMARKS.md "Inner-product
 * scoring for the softmax towers"), so neither is left to chance.
 */
export function objectiveAnchors(base: TwoTowerConfig, objectives: readonly ModelObjective[], learningRate: number, own: Candidate): Candidate[] {
  const each = objectives.map((o, n) => (n > 0 ? perScoring(objectiveAnchor(base, o, learningRate), o) : perScoring(objectives.length > 1 ? { objective: o.name, ...own } : own, o, base.scoring)));
  // Every family's defaults first, then the other scorings: a budget smaller than the anchors still starts from each family.
  return [...each.map((anchors) => anchors[0]!), ...each.flatMap((anchors) => anchors.slice(1))];
}

/** One objective's defaults as a candidate: its tuned settings in `base` re-shaped for it (its default scoring). */
export function objectiveAnchor(base: TwoTowerConfig, o: ModelObjective, learningRate: number): Candidate {
  const config = configForObjective(base, o.name);
  const anchor: Candidate = { objective: o.name };
  for (const name of o.tuned.settings) anchor[name] = name === 'learningRate' ? learningRate : (config[name] as number);
  return anchor;
}

/** `anchor` once per scoring `o` offers (`first`, else its default, leading); as it is when `o` offers one. */
function perScoring(anchor: Candidate, o: ModelObjective, first?: ModelScoring): Candidate[] {
  if (o.scorings.length < 2) return [anchor];
  const lead = first !== undefined && o.scorings.includes(first) ? first : o.scoring;
  return [lead, ...o.scorings.filter((s) => s !== lead)].map((scoring) => ({ ...anchor, scoring }));
}

/**
 * The objective whose towers a transfer may put above an ID-rows source's frozen rows (a fresh
 * top trained on the target): hybrid over implicit ALS; none over towers that have layers.
 */
export function layeredObjectiveOver(source: ModelObjective): ModelObjective | undefined {
  return source.layers === 'id-rows' && source.alsRows ? modelObjective('hybrid') : undefined;
}

/** A candidate's first-rung budget: its objective's (epochs, or sweeps for a row-solving one). */
export function firstRungOf(c: Candidate, fallback: ModelObjective): number {
  return (c.objective ? modelObjective(c.objective) : fallback).tuned.firstRungEpochs;
}

/** The space searching only `settings` of the objective's tuned ones. */
function withSettings(space: SearchSpace, settings: readonly TunedSetting[]): SearchSpace {
  return { ...space, settings: space.settings.filter((name) => settings.includes(name)) };
}

/** The model settings a candidate changes (its objective re-shapes the towers; its learning rate goes to training). */
export function overridesOf(c: Candidate): ModelOverrides {
  const out: ModelOverrides = {};
  if (c.objective) out.objective = c.objective;
  if (c.alsAlpha !== undefined) out.alsAlpha = c.alsAlpha;
  if (c.alsRegularization !== undefined) out.alsRegularization = c.alsRegularization;
  if (c.temperature !== undefined) out.temperature = c.temperature;
  if (c.l2 !== undefined) out.l2 = c.l2;
  if (c.userIdDropout !== undefined) out.userIdDropout = c.userIdDropout;
  if (c.historyDropout !== undefined) out.historyDropout = c.historyDropout;
  if (c.popularityWeight !== undefined) out.popularityWeight = c.popularityWeight;
  if (c.scoring !== undefined) out.scoring = c.scoring;
  return out;
}


/** A model's tower outputs, computed once (`embedUsers`, `embedItems`, their width). */
export type ModelVectors = RowVectors;

function vectorsOf(model: TwoTowerModel | ModelVectors): ModelVectors {
  return 'embedUsers' in model ? { users: model.embedUsers(), items: model.embedItems(), dim: model.outputDim } : model;
}

