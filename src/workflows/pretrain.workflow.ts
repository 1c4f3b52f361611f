import { GraftError } from '../errors.js';
import { initBackend } from '../model/backend.js';
import { TwoTowerModel, type RowInit } from '../model/two-tower.model.js';
import { evaluationData } from './evaluation-data.js';
import { evaluateModel, fitModel, setUserHistoriesFrom, trainingEvents, type TrainingHooks } from './fit-and-evaluate.js';
import { DEFAULT_ROW_INIT, modelConfig, towerTokensFor, type EvaluationSettings, type ModelSettings, type TrainingSettings } from './model-settings.js';
import { concatExamples, type PreparedDomain } from './prepared-domain.js';
import { collectTrainedModel, type TrainedModel } from './trained-model.js';
import { choosesPopularityTerm, freshCarveFreeFit, popularityTermChooser, type PopularityTermChoice } from './popularity-term.js';
import { validationScorer, type ValidationScore } from './auto-transfer.js';
import { pairedBootstrap } from '../evaluation/paired-bootstrap.js';
import { modelObjective, poolsItemAudience, startsRowsAtRowInit, type ModelScoring } from '../model/objective.js';
import type { EpochProgress, TrainResult } from '../training/train.js';

export interface PretrainSettings {
  model: ModelSettings;
  training: TrainingSettings;
  evaluation: EvaluationSettings;
  device?: 'AUTO' | 'CPU' | 'GPU';
  /**
   * Fit the softmax towers both without and with the item audience and keep the one that scores
   * better on the validation carve (`ItemAudienceChoice`): AUTO's delivered winner
   * (`autoPretrain`). Ignored without a carve or for another objective.
   */
  profileItemAudience?: boolean;
}

/** What `pretrain` reports: the fits' epochs and steps (several fits' epochs numbered as one run), and when the fitting is over. */
export interface PretrainHooks extends TrainingHooks {
  /** Called once every fit is done, before the test evaluation. */
  onEvaluation?: () => void;
}

/** The item audience chosen on the carve (`PretrainSettings.profileItemAudience`), with each fit's carve score as delivered (NDCG@10 under the run's protocol, with its popularity term). */
export interface ItemAudienceChoice {
  chosen: boolean;
  carveWithout: number;
  carveWith: number;
}

/**
 * The scoring chosen on the carve when the run left `scoring` out (`scoringProfiled`): each
 * scoring the objective offers fitted and scored on the carve as delivered (NDCG@10 under the
 * run's protocol, with its popularity term; with the item audience profiled too, the best fit
 * of each scoring); the default (cosine) is kept unless the other scores higher with its gain's
 * 95% interval above 0 (a paired bootstrap over the carve users: a sparse carve is noisy).
 */
export interface ScoringChoice {
  chosen: ModelScoring;
  /** The carve score of each scoring fitted, in the objective's order (the default first). */
  carve: Array<{ scoring: ModelScoring; score: number }>;
  /** The other scoring's carve gain over the default, user by user: the mean and its paired bootstrap 95% interval (the AUTO guard's test); chosen only when the interval is above 0. */
  gain: { scoring: ModelScoring; mean: number; ci95: [number, number] };
}

/**
 * Where the softmax towers' ID rows started, chosen on the carve when the run left `rowInit` out
 * (`rowInitProfiled`): the scoring kept fitted again from the other start and scored on the carve
 * as delivered; the start whose fit scores higher is kept (a tie keeps the default, implicit-als).
 * Unlike the scoring, no interval is asked of the winner: the two fits are the same model with the
 * same scoring and carve (a carve that keeps histories: `carveKeepsHistories`), differing only in
 * where the rows began, so neither is the riskier one to keep; the interval is reported.
 */
export interface RowInitChoice {
  chosen: RowInit;
  /** The carve score of each start fitted, the default first. */
  carve: Array<{ rowInit: RowInit; score: number }>;
  /** The other start's carve gain over the default, user by user: the mean and its paired bootstrap 95% interval. */
  gain: { rowInit: RowInit; mean: number; ci95: [number, number] };
}

/**
 * The fit kept of several fits of one model, the default's first (each with its carve score as
 * delivered): the default, unless another scores higher with its per-user gain's paired
 * bootstrap 95% interval above 0 (the highest such); with `interval: false`, the highest score
 * (a tie keeps the earlier). `gain`: the kept fit's over the default, or (the default kept) the
 * best other's; undefined with one fit.
 */
export function defaultUnlessBeaten<K>(fits: ReadonlyArray<{ key: K; carve: ValidationScore }>, seed: number, { interval = true }: { interval?: boolean } = {}): { chosen: number; gain?: { key: K; mean: number; ci95: [number, number] } } {
  const base = fits[0]!.carve;
  let chosen = 0;
  let gain: { key: K; mean: number; ci95: [number, number] } | undefined;
  for (let n = 1; n < fits.length; n++) {
    const g = pairedBootstrap(fits[n]!.carve.perUser, base.perUser, { seed });
    const entry = { key: fits[n]!.key, mean: g.mean, ci95: g.ci };
    if (fits[n]!.carve.value > fits[chosen]!.carve.value && (!interval || g.ci[0] > 0)) {
      chosen = n;
      gain = entry;
    } else if (chosen === 0 && (!gain || g.mean > gain.mean)) {
      gain = entry;
    }
  }
  return { chosen, ...(gain ? { gain } : {}) };
}

/** The scoring kept of one fit per scoring, the default's first (`defaultUnlessBeaten`). */
export function scoringOnCarve(fits: ReadonlyArray<{ scoring: ModelScoring; carve: ValidationScore }>, seed: number): { chosen: number; gain?: ScoringChoice['gain'] } {
  const decided = defaultUnlessBeaten(fits.map((f) => ({ key: f.scoring, carve: f.carve })), seed);
  const g = decided.gain;
  return { chosen: decided.chosen, ...(g ? { gain: { scoring: g.key, mean: g.mean, ci95: g.ci95 } } : {}) };
}

/**
 * Whether a run of `model` fits the softmax towers from both row starts and keeps the carve's
 * choice (`RowInitChoice`): `rowInit` left out, the softmax objective (the others solve or graft
 * their rows), and a carve that stands in for the test (`carveKeepsHistories`). Otherwise the
 * given start, or `DEFAULT_ROW_INIT`, is fitted once. (BENCHMARKS.md "The row start chosen on the
 * carve".)
 */
export function rowInitProfiled(model: { objective?: ModelSettings['objective']; rowInit?: RowInit }, prepared: Pick<PreparedDomain, 'train' | 'validation'>): boolean {
  return model.rowInit === undefined && startsRowsAtRowInit(model.objective) && carveKeepsHistories(prepared);
}

/**
 * Whether a run of `model` fits every scoring its objective offers and keeps the carve's
 * choice (`scoringOnCarve`): `scoring` left out, an objective with more than one (the softmax
 * towers: cosine and inner product), and a carve that stands in for the test
 * (`carveKeepsHistories`). Otherwise the given scoring, or the objective's default (cosine for
 * the softmax), is fitted once. (BENCHMARKS.md "The softmax's scoring chosen on the carve".)
 */
export function scoringProfiled(model: { objective?: ModelSettings['objective']; scoring?: ModelScoring }, prepared: Pick<PreparedDomain, 'train' | 'validation'>): boolean {
  return model.scoring === undefined && modelObjective(model.objective ?? 'softmax').scorings.length > 1 && carveKeepsHistories(prepared);
}

/**
 * Whether the validation carve (each user's last training event) leaves the median carve user
 * at least two training events: then the carve's users look like the test's (a history to pool,
 * one event shorter), and a choice made on it carries over. A carve of users with one or two
 * events (the sparse variants: at most 2 per user) leaves them one, where popularity predicts the
 * carve better than it predicts the test: on the sparse Phone target the carve preferred inner
 * product with its gain's interval above 0, and test lost 0.012 HR@10 (BENCHMARKS.md "The
 * softmax's scoring chosen on the carve").
 */
export function carveKeepsHistories(prepared: Pick<PreparedDomain, 'train' | 'validation'>): boolean {
  const carve = prepared.validation;
  if (!carve || carve.users.length === 0) return false;
  let users = 0;
  for (const u of carve.users) users = Math.max(users, u + 1);
  const events = new Int32Array(users);
  for (const u of prepared.train.users) if (u < users) events[u]!++;
  const left = Int32Array.from(carve.users, (u) => events[u]!).sort();
  return left[Math.floor((left.length - 1) / 2)]! >= 2;
}

/**
 * Trains a two-tower model on one domain and evaluates it on the domain's test split, next
 * to popularity. Pure computation: no database access (see `prepareDomain` and
 * `registerTrainedModel` for the two ends).
 *
 * @example
 * const prepared = await prepareDomain(gdb, 'sport', { split: DEFAULT_SPLIT, tokenBuckets: DEFAULT_MODEL.tokenBuckets });
 * const trained = await pretrain(prepared, { model: DEFAULT_MODEL, training: DEFAULT_TRAINING, evaluation: DEFAULT_EVALUATION });
 * const record = await registerTrainedModel(gdb, { domain: 'sport', kind: 'PRETRAIN' }, trained);
 */
export async function pretrain(prepared: PreparedDomain, settings: PretrainSettings, hooks: PretrainHooks = {}): Promise<TrainedModel> {
  const backend = await initBackend({ device: settings.device });
  const users = prepared.userDbIds.length;
  const items = prepared.itemDbIds.length;
  const objective = modelObjective(settings.model.objective ?? 'softmax');
  const profilesAudience = settings.profileItemAudience === true && poolsItemAudience(settings.model.objective) && prepared.validation !== undefined && prepared.validation.users.length > 0;
  const profilesScoring = scoringProfiled(settings.model, prepared);
  const profilesRowInit = rowInitProfiled(settings.model, prepared);
  const audiences = profilesAudience ? [false, true] : [settings.model.itemAudience === true];
  const scorings = profilesScoring ? objective.scorings : [settings.model.scoring !== undefined && objective.scorings.includes(settings.model.scoring) ? settings.model.scoring : objective.scoring];
  // The first start: the given one, else the default; with the start profiled, the other is fitted after the scoring is kept.
  const firstStart: RowInit = settings.model.rowInit ?? DEFAULT_ROW_INIT;
  const otherStart: RowInit = 'random';
  const scoreCarve = profilesAudience || profilesScoring || profilesRowInit;
  // The best fit of each scoring (over the audiences profiled; a tie keeps the first: without the audience).
  const bestOf = new Map<ModelScoring, Candidate>();
  const carve: Array<{ itemAudience: boolean; scoring: ModelScoring; score: number }> = [];
  let kept: Candidate | undefined;
  let challenger: Candidate | undefined;
  const fitsPlanned = scorings.length * audiences.length + (profilesRowInit ? 1 : 0);
  let fitsDone = 0;
  let epochsBefore = 0;
  // Several fits report one run of epochs: each fit's epochs after the previous fits', out of every fit's budget.
  const fitHooks = (): TrainingHooks => {
    const offset = epochsBefore;
    const later = (fitsPlanned - fitsDone - 1) * settings.training.epochs;
    const onEpoch = hooks.onEpoch;
    return fitsPlanned > 1 && onEpoch ? { ...hooks, onEpoch: (p: EpochProgress) => onEpoch({ ...p, epoch: offset + p.epoch, epochs: offset + p.epochs + later }) } : hooks;
  };
  const fit = async (model: ModelSettings & { itemAudience: boolean; scoring: ModelScoring; rowInit: RowInit }): Promise<Candidate> => {
    const fitted = await fitCandidate(prepared, settings, model, fitHooks(), scoreCarve);
    fitsDone++;
    epochsBefore += fitted.training.epochs;
    return { ...fitted, itemAudience: model.itemAudience, scoring: model.scoring, rowInit: model.rowInit };
  };
  try {
    for (const scoring of scorings) {
      for (const itemAudience of audiences) {
        const fitted = await fit({ ...settings.model, itemAudience, scoring, rowInit: firstStart });
        const score = fitted.carve?.value ?? 0;
        carve.push({ itemAudience, scoring, score });
        const held = bestOf.get(scoring);
        if (!held || score > (held.carve?.value ?? 0)) {
          held?.model.dispose();
          bestOf.set(scoring, fitted);
        } else {
          fitted.model.dispose();
        }
      }
    }
    const fits = scorings.map((scoring) => bestOf.get(scoring)!);
    const decided = scoringOnCarve(fits.map((f) => ({ scoring: f.scoring, carve: f.carve! })), settings.evaluation.seed);
    const chosen = fits[decided.chosen]!;
    for (const fit of fits) if (fit !== chosen) fit.model.dispose();
    bestOf.clear();
    kept = chosen;
    const best = (pick: (c: (typeof carve)[number]) => boolean) => Math.max(...carve.filter(pick).map((c) => c.score));
    // With the scoring profiled too, the audience's two scores are those of the kept scoring's fits.
    const itemAudience: ItemAudienceChoice | undefined = profilesAudience
      ? { chosen: kept.itemAudience, carveWithout: best((c) => c.scoring === kept!.scoring && !c.itemAudience), carveWith: best((c) => c.scoring === kept!.scoring && c.itemAudience) }
      : undefined;
    const scoringChoice: ScoringChoice | undefined = profilesScoring ? { chosen: kept.scoring, carve: scorings.map((s) => ({ scoring: s, score: best((c) => c.scoring === s) })), gain: decided.gain! } : undefined;
    // The start profiled: the kept scoring (and audience) fitted from the other start, the higher on the carve kept.
    let rowInitChoice: RowInitChoice | undefined;
    if (profilesRowInit) {
      challenger = await fit({ ...settings.model, itemAudience: kept.itemAudience, scoring: kept.scoring, rowInit: otherStart });
      const starts = [kept, challenger];
      const byStart = defaultUnlessBeaten(starts.map((f) => ({ key: f.rowInit, carve: f.carve! })), settings.evaluation.seed, { interval: false });
      rowInitChoice = { chosen: starts[byStart.chosen]!.rowInit, carve: starts.map((f) => ({ rowInit: f.rowInit, score: f.carve!.value })), gain: { rowInit: byStart.gain!.key, mean: byStart.gain!.mean, ci95: byStart.gain!.ci95 } };
      const dropped = byStart.chosen === 0 ? challenger : kept;
      kept = starts[byStart.chosen]!;
      challenger = undefined;
      dropped.model.dispose();
    }
    const { model, training, popularityTerm } = kept;
    hooks.onEvaluation?.();
    // At test time the validation interactions are history too.
    const test = evaluationData(concatExamples(prepared.train, prepared.validation), prepared.test, users, items);
    setUserHistoriesFrom(model, prepared.train, prepared.validation);
    const report = evaluateModel(model, test, settings.evaluation);
    const modelSettings = {
      ...settings.model,
      // The scoring fitted (chosen on the carve, given, or the objective's own): stored, so a transfer and a refit score alike.
      scoring: kept!.scoring,
      // The start fitted (chosen on the carve, given, or the default): a transfer's baseline and a JOINT run start alike.
      rowInit: kept!.rowInit,
      ...(itemAudience ? { itemAudience: itemAudience.chosen } : {}),
      ...(popularityTerm ? { popularityWeight: popularityTerm.beta } : {}),
    };
    return collectTrainedModel(model, {
      // `popularityTerm`: the weight was chosen here, not given (a transfer does not carry it over: prepareTransfer).
      // `itemAudienceChoice`: the carve's choice between the two fits (the setting itself is in `model`).
      config: { ...storedSettings(settings), model: modelSettings, split: prepared.split, ...(popularityTerm ? { popularityTerm } : {}), ...(itemAudience ? { itemAudienceChoice: itemAudience } : {}), ...(scoringChoice ? { scoringChoice } : {}), ...(rowInitChoice ? { rowInitChoice } : {}) },
      userDbIds: prepared.userDbIds,
      itemDbIds: prepared.itemDbIds,
      candidateItems: items,
      report,
      dropped: prepared.dropped,
      training,
      popularityTerm,
      backend,
    });
  } finally {
    for (const fit of bestOf.values()) fit.model.dispose();
    kept?.model.dispose();
    challenger?.model.dispose();
  }
}

/** One fit of `pretrain` with the settings it was fitted at. */
type Candidate = FittedCandidate & { itemAudience: boolean; scoring: ModelScoring; rowInit: RowInit };

/** One fitted model of `pretrain`: its popularity term settled, and with `scoreCarve` its carve score as delivered. */
interface FittedCandidate {
  model: TwoTowerModel;
  training: TrainResult;
  popularityTerm?: PopularityTermChoice;
  /** The carve score as delivered, with its per-user values (`scoreCarve`). */
  carve?: ValidationScore;
}

/**
 * Fits one model of `modelSettings` on the training events (its epochs stopped on the carve, the
 * softmax towers'), with its popularity term settled; with `scoreCarve`, also its carve score as
 * delivered: the score at the term chosen on the carve, or at a given term (before the term is
 * counted over the carve's events too).
 */
async function fitCandidate(prepared: PreparedDomain, settings: PretrainSettings, modelSettings: ModelSettings, hooks: TrainingHooks, scoreCarve: boolean): Promise<FittedCandidate> {
  const users = prepared.userDbIds.length;
  const items = prepared.itemDbIds.length;
  const config = modelConfig(modelSettings, users, items);
  const tokens = towerTokensFor(config, prepared.itemTokens);
  let model = TwoTowerModel.create(config, tokens);
  try {
    const events = trainingEvents(config, prepared.train, prepared.validation);
    const validation = events.validation && evaluationData(events.train, events.validation, users, items);
    // Histories from training events only while training; at test time validation events are history too.
    setUserHistoriesFrom(model, events.train);
    // popularityWeight left out: the term's weight chosen on the carve, by a model that has not seen it.
    const term = popularityTermChooser(modelSettings, prepared, settings.evaluation);
    const training = await fitModel(model, events.train, validation, settings.training, modelSettings.seed, { ...hooks, ...term.hooks }, undefined, settings.evaluation);
    if (training.aborted) throw cancelled(prepared.domain);
    // The carve score as delivered (`scoreCarve`; profiles are made for fits that hold the carve out, the softmax towers'):
    // at a given term, the fitted model as it is (its term counted over training events only, as in training);
    // at a term chosen here, the chooser's own score at the weight it chose (the fitted model plus β·log(1 + n_i) over the training events).
    const scorer = scoreCarve && prepared.validation ? validationScorer(prepared.train, prepared.validation, users, items, settings.evaluation) : undefined;
    let carve = scorer && !choosesPopularityTerm(modelSettings, prepared.validation) ? scorer.scoreAt(model, [undefined])[0] : undefined;
    const settled = await term.afterFit(model, tokens, freshCarveFreeFit(config, tokens, prepared.train, settings.training, modelSettings.seed, hooks.signal));
    if (settled.aborted) throw cancelled(prepared.domain);
    if (scorer && settled.carve) carve = settled.carve;
    if (settled.model !== model) {
      model.dispose();
      model = settled.model;
    }
    return { model, training, popularityTerm: settled.choice, carve };
  } catch (error) {
    model.dispose();
    throw error;
  }
}

/** The run's settings as the registry stores them (how it was asked to fit, not the model's shape). */
function storedSettings({ profileItemAudience: _profile, ...rest }: PretrainSettings): Omit<PretrainSettings, 'profileItemAudience'> {
  return rest;
}

function cancelled(domain: string): GraftError {
  return new GraftError('CANCELLED', `training on "${domain}" cancelled; no model was registered`);
}
