import type { NamedWeight } from '../model/named-weight.js';
import { takesPopularityTerm } from '../model/objective.js';
import { TwoTowerModel, type TowerTokens, type TwoTowerConfig } from '../model/two-tower.model.js';
import { setPopularityBias } from '../training/popularity-bias.js';
import { popularityProfiler, validationScorer } from './auto-transfer.js';
import { holdsCarveOut } from './fit-and-evaluate.js';
import type { EvaluationSettings } from './model-settings.js';
import { concatExamples, type Examples } from './prepared-domain.js';

/** The popularity term a plain training run chose on its validation carve (stored in the model's metrics). */
export interface PopularityTermChoice {
  /** The weight β chosen (0: no term). */
  beta: number;
  /** The carve's `SEARCH_METRIC` without the term and at β. */
  carveWithout: number;
  carveWith: number;
}

/**
 * Whether a plain training run chooses the popularity term's weight on its carve: the weight
 * was left out (`popularityWeight` undefined; a given 0 means none), the model can take the
 * term (`takesPopularityTerm`), and its fit held the carve out (`holdsCarveOut`: the softmax
 * towers; implicit ALS trains on the carve and the hybrid refits on it, so their term stays 0
 * unless given, or AUTO profiles it on trials that did not see the carve).
 */
export function choosesPopularityTerm(config: Pick<TwoTowerConfig, 'objective' | 'itemBias' | 'popularityWeight'>, validation: Examples | undefined): boolean {
  return config.popularityWeight === undefined && takesPopularityTerm(config) && holdsCarveOut(config) && validation !== undefined && validation.users.length > 0;
}

/**
 * Chooses the popularity term β·log(1 + n_i) for a model trained without it, on the validation
 * carve: the model (its users' histories from `train` only, as in training) is scored at every
 * weight of `POPULARITY_PROFILE` under the run's protocol (`SEARCH_METRIC`, the measure AUTO
 * ranks by), and the best weight is kept (ties: the smaller; 0 when none beats no term). The
 * term is not trained, so the choice needs no refit: with β > 0 the result is a new model, the
 * same weights plus the items' bias column counted over every training event, the carve's too
 * (`countedOverCarve`), served by inner product over `[u, 1]` and `[v, b]`; with β = 0 it is
 * `model` itself. The caller disposes `model` when a new one comes back. Measured on the four
 * real targets here, full and sparse (BENCHMARKS.md): the carve chose β 0.1-1, test rose on
 * seven of eight and tied on the eighth.
 *
 * @example
 * const { model: served, choice } = withChosenPopularityTerm(model, prepared.train, prepared.validation!, settings.evaluation, tokens);
 */
export function withChosenPopularityTerm(
  model: TwoTowerModel,
  train: Examples,
  validation: Examples,
  evaluation: Pick<EvaluationSettings, 'protocol' | 'negatives' | 'seed'>,
  tokens: TowerTokens,
): { model: TwoTowerModel; choice: PopularityTermChoice } {
  const { users, items } = model;
  const { scoreAt } = validationScorer(train, validation, users, items, evaluation);
  const found = popularityProfiler(train, items)(model, scoreAt);
  const choice = { beta: found.beta, carveWithout: found.without.value, carveWith: found.score.value };
  if (found.beta === 0) return { model, choice };
  const weights: NamedWeight[] = model.exportWeights().filter((w) => w.name !== 'item.bias');
  weights.push({ name: 'item.bias', kind: 'table', shape: [items, 1], data: new Float32Array(items) });
  const chosen = TwoTowerModel.fromWeights({ ...model.config, popularityWeight: found.beta }, weights, tokens);
  countedOverCarve(chosen, train, validation);
  return { model: chosen, choice };
}

/**
 * The popularity term of a model whose fit held the carve out, counted again over every
 * training event of the domain, the carve's too: the term is not trained, so the carve's events
 * are as good a count as any (the carve only chose β), and implicit ALS and the hybrid's refit
 * count them by fitting on them. On a sparse target the carve is up to half of the events
 * (BENCHMARKS.md: Phone -> Sport sparse 0.0687 HR@10 counted without it, 0.0736 with it). A
 * no-op without the term.
 */
export function countedOverCarve(model: TwoTowerModel, train: Examples, validation: Examples): void {
  setPopularityBias(model, concatExamples(train, validation));
}

/**
 * The popularity term of a freshly fitted model, as a plain training run settles it: chosen on
 * the carve when `popularityWeight` was left out (`choosesPopularityTerm`, `withChosenPopularityTerm`),
 * else a given term counted over the carve's events too (`countedOverCarve`) where the fit held
 * the carve out. `events` are the fit's (`trainingEvents`: no `validation` when the fit trained on
 * it). Returns the model to keep (a new one when a term was chosen: the caller disposes the old)
 * and the choice made, if any.
 */
export function popularityTermAfterFit(
  model: TwoTowerModel,
  settings: Pick<TwoTowerConfig, 'objective' | 'itemBias' | 'popularityWeight'>,
  events: { train: Examples; validation?: Examples },
  evaluation: Pick<EvaluationSettings, 'protocol' | 'negatives' | 'seed'>,
  tokens: TowerTokens,
): { model: TwoTowerModel; choice?: PopularityTermChoice } {
  const { train, validation } = events;
  if (choosesPopularityTerm(settings, validation)) return withChosenPopularityTerm(model, train, validation!, evaluation, tokens);
  if (validation && holdsCarveOut(model.config)) countedOverCarve(model, train, validation);
  return { model };
}
