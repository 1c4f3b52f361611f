import { GraftError } from '../errors.js';
import { initBackend } from '../model/backend.js';
import { TwoTowerModel } from '../model/two-tower.model.js';
import { evaluationData } from './evaluation-data.js';
import { evaluateModel, fitModel, setUserHistoriesFrom, trainingEvents, type TrainingHooks } from './fit-and-evaluate.js';
import { modelConfig, towerTokensFor, type EvaluationSettings, type ModelSettings, type TrainingSettings } from './model-settings.js';
import { concatExamples, type PreparedDomain } from './prepared-domain.js';
import { collectTrainedModel, type TrainedModel } from './trained-model.js';
import { choosesPopularityTerm, freshCarveFreeFit, popularityTermChooser, type PopularityTermChoice } from './popularity-term.js';
import { validationScorer } from './auto-transfer.js';
import { poolsItemAudience } from '../model/objective.js';
import type { TrainResult } from '../training/train.js';

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

/** The item audience chosen on the carve (`PretrainSettings.profileItemAudience`), with each fit's carve score as delivered (NDCG@10 under the run's protocol, with its popularity term). */
export interface ItemAudienceChoice {
  chosen: boolean;
  carveWithout: number;
  carveWith: number;
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
export async function pretrain(prepared: PreparedDomain, settings: PretrainSettings, hooks: TrainingHooks = {}): Promise<TrainedModel> {
  const backend = await initBackend({ device: settings.device });
  const users = prepared.userDbIds.length;
  const items = prepared.itemDbIds.length;
  const profiles = settings.profileItemAudience === true && poolsItemAudience(settings.model.objective) && prepared.validation !== undefined && prepared.validation.users.length > 0;
  const candidates = profiles ? [false, true] : [settings.model.itemAudience === true];
  let kept: FittedCandidate | undefined;
  const carve: number[] = [];
  try {
    for (const itemAudience of candidates) {
      const fitted = await fitCandidate(prepared, settings, { ...settings.model, itemAudience }, hooks, profiles);
      carve.push(fitted.carveScore ?? 0);
      // A tie keeps the first: the towers without the audience.
      if (!kept || fitted.carveScore! > kept.carveScore!) {
        kept?.model.dispose();
        kept = fitted;
      } else {
        fitted.model.dispose();
      }
    }
    const { model, training, popularityTerm } = kept!;
    const itemAudience: ItemAudienceChoice | undefined = profiles ? { chosen: carve[1]! > carve[0]!, carveWithout: carve[0]!, carveWith: carve[1]! } : undefined;
    // At test time the validation interactions are history too.
    const test = evaluationData(concatExamples(prepared.train, prepared.validation), prepared.test, users, items);
    setUserHistoriesFrom(model, prepared.train, prepared.validation);
    const report = evaluateModel(model, test, settings.evaluation);
    const modelSettings = {
      ...settings.model,
      ...(itemAudience ? { itemAudience: itemAudience.chosen } : {}),
      ...(popularityTerm ? { popularityWeight: popularityTerm.beta } : {}),
    };
    return collectTrainedModel(model, {
      // `popularityTerm`: the weight was chosen here, not given (a transfer does not carry it over: prepareTransfer).
      // `itemAudienceChoice`: the carve's choice between the two fits (the setting itself is in `model`).
      config: { ...storedSettings(settings), model: modelSettings, split: prepared.split, ...(popularityTerm ? { popularityTerm } : {}), ...(itemAudience ? { itemAudienceChoice: itemAudience } : {}) },
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
    kept?.model.dispose();
  }
}

/** One fitted model of `pretrain`: its popularity term settled, and with `scoreCarve` its carve score as delivered. */
interface FittedCandidate {
  model: TwoTowerModel;
  training: TrainResult;
  popularityTerm?: PopularityTermChoice;
  carveScore?: number;
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
    const givenTermCarve =
      scoreCarve && prepared.validation && !choosesPopularityTerm(modelSettings, prepared.validation)
        ? validationScorer(prepared.train, prepared.validation, users, items, settings.evaluation).score(model)
        : undefined;
    const settled = await term.afterFit(model, tokens, freshCarveFreeFit(config, tokens, prepared.train, settings.training, modelSettings.seed, hooks.signal));
    if (settled.aborted) throw cancelled(prepared.domain);
    if (settled.model !== model) {
      model.dispose();
      model = settled.model;
    }
    const popularityTerm = settled.choice;
    return { model, training, popularityTerm, carveScore: popularityTerm ? popularityTerm.carveWith : givenTermCarve };
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
