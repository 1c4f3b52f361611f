import { GraftError } from '../errors.js';
import { initBackend } from '../model/backend.js';
import { TwoTowerModel } from '../model/two-tower.model.js';
import { evaluationData } from './evaluation-data.js';
import { evaluateModel, fitModel, setUserHistoriesFrom, trainingEvents, type TrainingHooks } from './fit-and-evaluate.js';
import { modelConfig, towerTokensFor, type EvaluationSettings, type ModelSettings, type TrainingSettings } from './model-settings.js';
import { concatExamples, type PreparedDomain } from './prepared-domain.js';
import { collectTrainedModel, type TrainedModel } from './trained-model.js';
import { freshCarveFreeFit, popularityTermChooser } from './popularity-term.js';

export interface PretrainSettings {
  model: ModelSettings;
  training: TrainingSettings;
  evaluation: EvaluationSettings;
  device?: 'AUTO' | 'CPU' | 'GPU';
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
  const config = modelConfig(settings.model, users, items);
  const tokens = towerTokensFor(config, prepared.itemTokens);
  let model = TwoTowerModel.create(config, tokens);
  try {
    const events = trainingEvents(config, prepared.train, prepared.validation);
    const validation = events.validation && evaluationData(events.train, events.validation, users, items);
    // Histories from training events only while training; at test time validation events are history too.
    setUserHistoriesFrom(model, events.train);
    // popularityWeight left out: the term's weight chosen on the carve, by a model that has not seen it.
    const term = popularityTermChooser(settings.model, prepared, settings.evaluation);
    const training = await fitModel(model, events.train, validation, settings.training, settings.model.seed, { ...hooks, ...term.hooks }, undefined, settings.evaluation);
    if (training.aborted) throw cancelled(prepared.domain);
    const settled = await term.afterFit(model, tokens, freshCarveFreeFit(config, tokens, prepared.train, settings.training, settings.model.seed, hooks.signal));
    if (settled.aborted) throw cancelled(prepared.domain);
    const popularityTerm = settled.choice;
    if (settled.model !== model) {
      model.dispose();
      model = settled.model;
    }
    // At test time the validation interactions are history too.
    const test = evaluationData(concatExamples(prepared.train, prepared.validation), prepared.test, users, items);
    setUserHistoriesFrom(model, prepared.train, prepared.validation);
    const report = evaluateModel(model, test, settings.evaluation);
    const modelSettings = popularityTerm ? { ...settings.model, popularityWeight: popularityTerm.beta } : settings.model;
    return collectTrainedModel(model, {
      // `popularityTerm`: the weight was chosen here, not given (a transfer does not carry it over: prepareTransfer).
      config: { ...settings, model: modelSettings, split: prepared.split, ...(popularityTerm ? { popularityTerm } : {}) },
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
    model.dispose();
  }
}

function cancelled(domain: string): GraftError {
  return new GraftError('CANCELLED', `training on "${domain}" cancelled; no model was registered`);
}
