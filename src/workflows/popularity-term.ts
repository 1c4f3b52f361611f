import type { NamedWeight } from '../model/named-weight.js';
import { takesPopularityTerm } from '../model/objective.js';
import { TwoTowerModel, type TowerTokens, type TwoTowerConfig } from '../model/two-tower.model.js';
import type { TrainResult } from '../training/train.js';
import { setPopularityBias } from '../training/popularity-bias.js';
import { popularityProfiler, validationScorer, type ValidationScore } from './auto-transfer.js';
import { fitModel, holdsCarveOut, setUserHistoriesFrom, type TrainingHooks } from './fit-and-evaluate.js';
import type { EvaluationSettings, TrainingSettings } from './model-settings.js';
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
 * term (`takesPopularityTerm`), and the domain has a validation carve to choose on.
 */
export function choosesPopularityTerm(config: Pick<TwoTowerConfig, 'objective' | 'itemBias' | 'popularityWeight'>, validation: Examples | undefined): boolean {
  return config.popularityWeight === undefined && takesPopularityTerm(config) && validation !== undefined && validation.users.length > 0;
}

/**
 * Chooses the popularity term β·log(1 + n_i) for `carveFree`, a model fitted without the
 * carve's events (its users' histories from `train` only, as in training): it is scored on the
 * carve at every weight of `POPULARITY_PROFILE` under the run's protocol (`SEARCH_METRIC`, the
 * measure AUTO ranks by), and the best weight is kept (ties: the smaller; 0 when none beats no
 * term). Measured on the four real targets here, full and sparse (BENCHMARKS.md): for the
 * softmax towers the carve chose β 0.1-1 and test rose on seven of eight and tied on the eighth.
 */
export function choosePopularityTerm(
  carveFree: TwoTowerModel,
  train: Examples,
  validation: Examples,
  evaluation: Pick<EvaluationSettings, 'protocol' | 'negatives' | 'seed'>,
): PopularityTermChoice {
  return chooseTerm(carveFree, train, validation, evaluation).choice;
}

/** `choosePopularityTerm`, with the carve's per-user scores at the weight chosen. */
function chooseTerm(carveFree: TwoTowerModel, train: Examples, validation: Examples, evaluation: Pick<EvaluationSettings, 'protocol' | 'negatives' | 'seed'>): { choice: PopularityTermChoice; carve: ValidationScore } {
  const { users, items } = carveFree;
  const { scoreAt } = validationScorer(train, validation, users, items, evaluation);
  const found = popularityProfiler(train, items)(carveFree, scoreAt);
  return { choice: { beta: found.beta, carveWithout: found.without.value, carveWith: found.score.value }, carve: found.score };
}

/**
 * `model` with the popularity term at `beta` > 0: a new model, the same weights plus the items'
 * bias column β·log(1 + n_i) counted over `events` (every training event of the domain, the
 * carve's too: the term is not trained, and the carve only chose β), served by inner product
 * over `[u, 1]` and `[v, b]`. The caller disposes `model`.
 */
export function withPopularityTerm(model: TwoTowerModel, beta: number, events: Examples, tokens: TowerTokens): TwoTowerModel {
  const weights: NamedWeight[] = model.exportWeights().filter((w) => w.name !== 'item.bias');
  weights.push({ name: 'item.bias', kind: 'table', shape: [model.items, 1], data: new Float32Array(model.items) });
  const chosen = TwoTowerModel.fromWeights({ ...model.config, popularityWeight: beta }, weights, tokens);
  setPopularityBias(chosen, events);
  return chosen;
}

/**
 * The popularity term of a model whose fit held the carve out, counted again over every
 * training event of the domain, the carve's too: the term is not trained, so the carve's events
 * are as good a count as any (the carve only chose β), and implicit ALS and the hybrid's refit
 * count them by fitting on them. On a sparse target the carve is up to half of the events
 * (BENCHMARKS.md: Phone -> Sport sparse 0.0687 HR@10 counted without it, 0.0736 with it). A
 * no-op without the term.
 */
function countedOverCarve(model: TwoTowerModel, train: Examples, validation: Examples): void {
  setPopularityBias(model, concatExamples(train, validation));
}

/**
 * A copy of the model fitted with the same settings on the training events alone (the carve's
 * left out, no validation): what implicit ALS's term is chosen on (`popularityTermChooser`). The
 * caller disposes the model.
 */
export type CarveFreeFit = () => Promise<{ model: TwoTowerModel; training: TrainResult }>;

/** `pretrain`'s carve-free copy: a fresh model of `config` fitted on `train` alone. */
export function freshCarveFreeFit(config: TwoTowerConfig, tokens: TowerTokens, train: Examples, training: TrainingSettings, seed: number, signal?: AbortSignal): CarveFreeFit {
  return async () => {
    const model = TwoTowerModel.create(config, tokens);
    try {
      setUserHistoriesFrom(model, train);
      return { model, training: await fitModel(model, train, undefined, training, seed, { signal }) };
    } catch (error) {
      model.dispose();
      throw error;
    }
  };
}

/**
 * The popularity term of a plain training run (`pretrain`, bench/transfer's step by step
 * pretrain), settled around its fit. With `popularityWeight` left out (`choosesPopularityTerm`)
 * β is chosen on the carve (`choosePopularityTerm`) by a model that has not seen it, which each
 * objective offers its own way:
 *
 * - the softmax towers hold the carve out (`holdsCarveOut`: it stops their epochs): the fitted
 *   model itself;
 * - the hybrid refits on the carve after choosing its epochs and top share on a copy fitted
 *   without it: that copy, handed over by `hooks.onCarveFreeModel` during the fit;
 * - implicit ALS trains on the carve (and a hybrid that made no copy): a copy fitted here with
 *   the same settings on the training events alone (one more fit; ALS is the cheapest).
 *
 * The term is not trained (the ALS solve and the softmax logits never see it), so the model
 * fitted is kept and only rebuilt with the bias column (`withPopularityTerm`). A given weight
 * is used as given (0 = none), counted over the carve's events too where the fit held them out.
 * With a weight chosen, `carve` is the chooser's score at it, user by user (of the model it
 * chose on: for the softmax towers, the delivered model over the training events' term).
 *
 * @example
 * const term = popularityTermChooser(settings.model, prepared, settings.evaluation);
 * const training = await fitModel(model, events.train, carve, settings.training, seed, { ...hooks, ...term.hooks });
 * const { model: served, choice } = await term.afterFit(model, tokens, freshCarveFreeFit(config, tokens, prepared.train, settings.training, seed));
 */
export function popularityTermChooser(
  settings: Pick<TwoTowerConfig, 'objective' | 'itemBias' | 'popularityWeight'>,
  split: { train: Examples; validation?: Examples },
  evaluation: Pick<EvaluationSettings, 'protocol' | 'negatives' | 'seed'>,
): {
  hooks: Pick<TrainingHooks, 'onCarveFreeModel'>;
  afterFit: (model: TwoTowerModel, tokens: TowerTokens, fitCarveFree: CarveFreeFit) => Promise<{ model: TwoTowerModel; choice?: PopularityTermChoice; carve?: ValidationScore; aborted?: boolean }>;
} {
  const { train, validation } = split;
  const chooses = choosesPopularityTerm(settings, validation);
  const choose = (m: TwoTowerModel) => chooseTerm(m, train, validation!, evaluation);
  let chosenInFit: ReturnType<typeof choose> | undefined;
  const hooks = chooses ? { onCarveFreeModel: (copy: TwoTowerModel) => void (chosenInFit = choose(copy)) } : {};
  const afterFit = async (model: TwoTowerModel, tokens: TowerTokens, fitCarveFree: CarveFreeFit) => {
    if (!chooses) {
      if (validation && holdsCarveOut(model.config)) countedOverCarve(model, train, validation);
      return { model };
    }
    let chosen = holdsCarveOut(model.config) ? choose(model) : chosenInFit;
    if (!chosen) {
      const copy = await fitCarveFree();
      try {
        if (copy.training.aborted) return { model, aborted: true };
        chosen = choose(copy.model);
      } finally {
        copy.model.dispose();
      }
    }
    const { choice, carve } = chosen;
    if (choice.beta === 0) return { model, choice, carve };
    return { model: withPopularityTerm(model, choice.beta, concatExamples(train, validation!), tokens), choice, carve };
  };
  return { hooks, afterFit };
}
