import { GraftError } from '../errors.js';
import { modelObjective } from '../model/objective.js';
import { TwoTowerModel } from '../model/two-tower.model.js';
import type { SearchReport, SearchTrialRecord } from '../transfer/transfer-report.js';
import { formatSearchBudget, type SearchBudget } from '../tuning/search-budget.js';
import { candidateSampler, describeCandidate, targetOnlySearchSpace, type Candidate } from '../tuning/search-space.js';
import { successiveHalving } from '../tuning/successive-halving.js';
import { profiledScore, type ProfiledSettings, SEARCH_ETA, SEARCH_RUNGS, describeSearchMetric, firstRungOf, objectiveAnchors, overridesOf, popularityProfiler, searchedObjectives, trialFit, validationScorer } from './auto-transfer.js';
import { fitModel, setUserHistoriesFrom, type TrainingHooks } from './fit-and-evaluate.js';
import { configForObjective, DEFAULT_ROW_INIT, modelConfig, towerTokensFor } from './model-settings.js';
import { withOverrides } from './transfer-candidate.js';
import type { PreparedDomain } from './prepared-domain.js';
import { pretrain, type PretrainSettings } from './pretrain.workflow.js';
import type { TrainedModel } from './trained-model.js';

/**
 * `graft train --auto`: the transfer's search without strategies or replay. Successive halving
 * over the objectives (the configured one first, then implicit ALS, hybrid and softmax towers,
 * each from its defaults; only the configured one with `fixedObjective`, when the user named
 * it) and each one's tuned settings (the softmax towers' scoring too), each trial trained on
 * the domain's training events without the validation carve and scored on it (the test split
 * is never read; the softmax towers stop early on it, as the delivered model does: `trialFit`); then the
 * winner is trained as `pretrain` trains (all training data) and evaluated on test.
 *
 * @example
 * const { trained, search } = await autoPretrain(prepared, { ...settings, budget: { kind: 'trials', trials: 16 } });
 */
export async function autoPretrain(
  prepared: PreparedDomain,
  settings: PretrainSettings & { budget: SearchBudget; fixedObjective?: boolean },
  hooks: TrainingHooks & { onTrial?: (trial: SearchTrialRecord) => void } = {},
): Promise<{ trained: TrainedModel; search: SearchReport }> {
  const started = performance.now();
  const validationRows = prepared.validation;
  if (!validationRows || validationRows.users.length === 0) {
    throw new GraftError('BAD_INPUT', `--auto scores its trials on a validation carve of "${prepared.domain}"'s training data (each user's last event, users with at least 2), and the split left none; train without --auto`);
  }
  const users = prepared.userDbIds.length;
  const items = prepared.itemDbIds.length;
  const objective = modelObjective(settings.model.objective ?? 'softmax');
  const seed = settings.model.seed;
  // `carve`: what a trial stops early on where the delivered model does (`trialFit`).
  const { scoreAt, validationUsers, carve } = validationScorer(prepared.train, validationRows, users, items, settings.evaluation);
  // The popularity term's weight: profiled on every trial whose model takes it, as in AUTO's transfer search.
  const profile = popularityProfiler(prepared.train, items);
  const profiled = new Map<string, ProfiledSettings>();
  const keyOf = (c: Candidate, epochs: number) => `${epochs} ${JSON.stringify(c)}`;
  const withProfiled = (t: { settings: Candidate; resource: number }): Candidate => ({ ...t.settings, ...profiled.get(keyOf(t.settings, t.resource)) });
  const baseConfig = modelConfig(settings.model, users, items);
  const own: Candidate = {};
  for (const name of objective.tuned.settings) own[name] = name === 'learningRate' ? settings.training.learningRate : (baseConfig[name] as number);
  const objectives = settings.fixedObjective ? [objective] : searchedObjectives(objective);
  const trials: SearchTrialRecord[] = [];
  const result = await successiveHalving<Candidate>({
    sample: candidateSampler(targetOnlySearchSpace(objective, objectives), seed, objectiveAnchors(baseConfig, objectives, settings.training.learningRate, own)),
    minResource: (c) => firstRungOf(c, objective),
    budget: settings.budget,
    eta: SEARCH_ETA,
    rungs: SEARCH_RUNGS,
    signal: hooks.signal,
    evaluate: async (c, epochs, signal) => {
      // Trained without the popularity term; its weight is profiled on the trained model.
      const config = withOverrides(baseConfig, { ...overridesOf(c), popularityWeight: 0 });
      const model = TwoTowerModel.create(config, towerTokensFor(config, prepared.itemTokens));
      try {
        setUserHistoriesFrom(model, prepared.train);
        const trial = trialFit(config, carve, { ...settings.training, epochs, learningRate: c.learningRate ?? settings.training.learningRate });
        // Early-stopped on the measure it is ranked by, as the delivered model is.
        const fit = await fitModel(model, prepared.train, trial.validation, trial.training, seed, { signal }, undefined, settings.evaluation);
        if (fit.aborted) throw new GraftError('CANCELLED', 'trial cancelled');
        const found = profiledScore(model, scoreAt, profile);
        profiled.set(keyOf(c, epochs), found.profiled);
        return found.score.value;
      } finally {
        model.dispose();
      }
    },
    onTrial: (t) => {
      const settings = withProfiled(t);
      const row: SearchTrialRecord = { search: 'train', config: t.config, label: describeCandidate(settings), settings: { ...settings }, rung: t.rung, epochs: t.resource, validation: t.score, seconds: t.seconds };
      trials.push(row);
      hooks.onTrial?.(row);
    },
  });
  const best = result.best;
  const { objective: bestObjective, ...bestSettings } = overridesOf(withProfiled(best));
  const search: SearchReport = {
    budget: formatSearchBudget(settings.budget),
    eta: SEARCH_ETA,
    rungs: SEARCH_RUNGS,
    metric: describeSearchMetric(settings.evaluation),
    validationUsers,
    seed,
    trials,
    transfer: { label: describeCandidate(withProfiled(best)).replace(/^target only, /, ''), epochs: best.resource, validation: best.score },
    stoppedByClock: result.stoppedByClock,
    seconds: (performance.now() - started) / 1000,
  };
  const trained = await pretrain(
    prepared,
    {
      ...settings,
      // A softmax winner is fitted with and without the item audience, the carve keeping the better:
      // the audience shows its worth only trained out (it peaks later), which no early rung sees.
      profileItemAudience: true,
      model: deliveredModel({ ...(bestObjective ? configForObjective(settings.model, bestObjective) : settings.model), ...bestSettings }),
      training: { ...settings.training, epochs: best.resource, learningRate: best.settings.learningRate ?? settings.training.learningRate },
    },
    hooks,
  );
  trained.config = { ...trained.config, chosenBy: 'AUTO', search };
  return { trained, search };
}

/**
 * The winner's settings as delivered: its scoring stated (a trial that left it out scored by its
 * objective's default), so the delivered fit is the winner's and not a second choice of scoring
 * (`scoringProfiled`); its row start likewise (the trials started where `modelConfig` starts them).
 */
function deliveredModel(model: PretrainSettings['model']): PretrainSettings['model'] {
  return { ...model, scoring: model.scoring ?? modelObjective(model.objective ?? 'softmax').scoring, rowInit: model.rowInit ?? DEFAULT_ROW_INIT };
}
