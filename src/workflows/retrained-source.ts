import type { GraftDatabase } from '../db/connect.js';
import { initBackend } from '../model/backend.js';
import { modelObjective } from '../model/objective.js';
import type { TrainingObjective } from '../model/training-objective.js';
import { TwoTowerModel } from '../model/two-tower.model.js';
import { loadWeights } from '../registry/artifact-repository.js';
import { childModels } from '../registry/model-repository.js';
import { GraftError } from '../errors.js';
import { evaluationData } from './evaluation-data.js';
import { evaluateModel, fitModel, type TrainingHooks } from './fit-and-evaluate.js';
import { modelConfig, storedModelSettings, type EvaluationSettings, type ModelSettings } from './model-settings.js';
import { resolvePretrainSettings } from './settings/run-settings.js';
import { collectTrainedModel, type TrainedModel } from './trained-model.js';
import type { PreparedSource } from './transfer.workflow.js';

/**
 * AUTO's plain journey (`graft train --domain SOURCE`, then `graft transfer --from MODEL --to
 * TARGET`): which objective transfers best depends on the pair, and the source model the user
 * trained has one. When it is not an ALS-rows model (softmax or hybrid towers), AUTO also
 * searches transfers from an implicit-ALS model of the same source domain, trained on the
 * source model's own rows and events at implicit ALS's defaults (`retrainSource`, seconds to
 * minutes: ALS sweeps, no epochs of gradient steps), and registered with its lineage (kind
 * PRETRAIN, parent the given source, `config.retrainedFrom`), so that the next AUTO transfer
 * from that source finds it (`loadRetrainedSources`) instead of training it again.
 */
export const RETRAINED_OBJECTIVE: TrainingObjective = 'implicit-als';

/** Stands for a retrained source's model id until it is registered (`registerTransferResult` substitutes it). */
export const UNREGISTERED_SOURCE_ID = 'retrained-source';

/** Whether AUTO, from `source` with `alternatives` at hand, needs an implicit-ALS source trained first. */
export function needsRetrainedSource(source: PreparedSource, alternatives: readonly PreparedSource[]): boolean {
  if (modelObjective(source.config.objective ?? 'softmax').alsRows) return false;
  if (source.events.users.length === 0) return false;
  return !alternatives.some((a) => (a.config.objective ?? 'softmax') === RETRAINED_OBJECTIVE);
}

/**
 * Trains an implicit-ALS model on the source model's rows and events (its domain; every event,
 * no split: the transfer's test is the target's), at the settings `graft train --objective
 * implicit-als` uses. Pure computation: returns the source to search from (id
 * `UNREGISTERED_SOURCE_ID`) and the model to register.
 */
export async function retrainSource(
  source: PreparedSource,
  options: { seed: number; evaluation: EvaluationSettings; device?: 'AUTO' | 'CPU' | 'GPU' },
  hooks: TrainingHooks = {},
): Promise<{ prepared: PreparedSource; trained: TrainedModel }> {
  const backend = await initBackend({ device: options.device });
  const { model: settings, training } = resolvePretrainSettings({ objective: RETRAINED_OBJECTIVE, seed: options.seed });
  const users = source.userDbIds.length;
  const items = source.itemDbIds.length;
  const config = modelConfig(settings, users, items);
  const model = TwoTowerModel.create(config);
  try {
    const fit = await fitModel(model, source.events, undefined, training, settings.seed, hooks);
    if (fit.aborted) throw new GraftError('CANCELLED', `retraining source model ${source.modelId} as ${RETRAINED_OBJECTIVE} was cancelled; nothing was registered`);
    // No test set: the source's events all trained it (as `--split none`); the metrics say so.
    const none = { users: new Int32Array(0), items: new Int32Array(0) };
    const report = evaluateModel(model, evaluationData(source.events, none, users, items), options.evaluation);
    const trained = collectTrainedModel(model, {
      config: { model: settings, training, evaluation: options.evaluation, split: { kind: 'none' }, retrainedFrom: source.modelId, retrainedFor: 'AUTO' },
      userDbIds: source.userDbIds,
      itemDbIds: source.itemDbIds,
      candidateItems: items,
      report,
      training: fit,
      backend,
    });
    return {
      prepared: { ...source, modelId: UNREGISTERED_SOURCE_ID, config, weights: trained.weights, itemTokens: undefined },
      trained,
    };
  } finally {
    model.dispose();
  }
}

/**
 * The registered retrained sources of `source` (children of kind PRETRAIN with
 * `config.retrainedFrom`), newest first, one per objective, loaded as sources to search from;
 * on `source`'s rows and events (they were trained on them).
 */
export async function loadRetrainedSources(gdb: GraftDatabase, source: PreparedSource): Promise<PreparedSource[]> {
  const found: PreparedSource[] = [];
  const seen = new Set<string>();
  for (const record of await childModels(gdb.db, source.modelId, 'PRETRAIN')) {
    if (record.config.retrainedFrom !== source.modelId) continue;
    const stored = record.config.model as ModelSettings | undefined;
    const objective = stored?.objective ?? 'softmax';
    if (seen.has(objective)) continue;
    seen.add(objective);
    const settings = storedModelSettings(stored);
    found.push({
      ...source,
      modelId: record.id,
      config: modelConfig(settings, source.userDbIds.length, source.itemDbIds.length),
      weights: await loadWeights(gdb.db, record.id),
      itemTokens: modelObjective(objective).layers === 'id-rows' ? undefined : source.itemTokens,
    });
  }
  return found;
}
