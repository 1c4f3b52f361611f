import type { ItemAudienceChoice, RowInitChoice, ScoringChoice } from '../../workflows/pretrain.workflow.js';
import { GraftError } from '../../errors.js';
import { TRAINING_OBJECTIVES } from '../../model/training-objective.js';
import type { SearchReport } from '../../transfer/transfer-report.js';
import { DEFAULT_SEARCH_BUDGET, formatSearchBudget, parseSearchBudget, type SearchBudget } from '../../tuning/search-budget.js';
import { autoPretrain } from '../../workflows/auto-pretrain.js';
import type { TrainedModel } from '../../workflows/trained-model.js';
import type { Command } from 'commander';
import { formatMetrics, formatItemAudience, formatItemRowRefinement, formatPopularityTerm, formatRowInitChoice, formatScoringChoice, formatSearch, formatTestSet, formatTopShare, unknownUserInDomain } from '../format-metrics.js';
import { oneOf, positiveInt } from '../options.js';
import { addSettingOptions, typedSettings } from '../setting-options.js';
import { trainingProgress } from '../training-progress.js';
import { note, withDatabase } from '../with-database.js';
import { defaultOf } from '../../workflows/settings/index.js';
import { resolvePretrainSettings } from '../../workflows/settings/run-settings.js';
import { objectiveNamed } from '../../training/objectives/index.js';
import { prepareDomain } from '../../workflows/prepared-domain.js';
import { pretrain } from '../../workflows/pretrain.workflow.js';
import { registerTrainedModel } from '../../workflows/register-trained-model.js';
import { splitFromOptions, type SplitCliOptions } from '../split-options.js';
import { describeSearchMetric } from '../../workflows/selection-metric.js';

interface TrainCliOptions extends SplitCliOptions {
  domain: string;
  seed?: number;
  device: 'AUTO' | 'CPU' | 'GPU';
  json?: boolean;
  auto?: boolean;
  budget?: SearchBudget;
}

export function addSplitOptions(command: Command): Command {
  return command
    .option('--split <split>', 'how to hold out test interactions: loo (each user\'s last), temporal:N, none', 'loo')
    .option('--test-file <file>', 'held-out test interactions (user, item) instead of --split, for a fixed public split')
    .option('--format <format>', 'format of --test-file', oneOf('format', ['tsv', 'csv'] as const), 'tsv');
}

export function registerTrain(program: Command): void {
  const command = program
    .command('train')
    .description('train a two-tower model on one domain, evaluate it next to popularity, and register it')
    .requiredOption('--domain <name>', 'domain to train on')
    .option('--device <device>', 'AUTO, CPU or GPU (GPU needs @tensorflow/tfjs-node-gpu)', oneOf('device', ['AUTO', 'CPU', 'GPU'] as const), 'AUTO')
    .option('--auto', "search the objective (implicit ALS, hybrid and softmax towers; only the one --objective names, when given), its main settings and the epochs by successive halving on a validation carve of the training data (each user's last event), then train the winner")
    .option('--budget <b>', `--auto: trials (configurations, e.g. 24) or time (e.g. 10m); default ${formatSearchBudget(DEFAULT_SEARCH_BUDGET)}`, (v: string) => parseSearchBudget(v))
    .option('--json', 'print one JSON object instead of a table');
  addSettingOptions(command, 'train');
  addSplitOptions(command);
  command.option('--seed <n>', 'the training seed (alias of --training-seed; the negatives\' seed is --eval-seed)', positiveInt('seed'));
  command.action(async (o: TrainCliOptions) => {
    let nothingEvaluated = false;
    await withDatabase(async (gdb) => {
      // The typed settings resolve exactly as a job's input does (declared bounds, the objective's defaults).
      const typed = typedSettings(command, 'train');
      if (o.seed !== undefined && typed.seed === undefined) typed.seed = o.seed;
      const { model, training, evaluation } = resolvePretrainSettings(typed);
      const objective = objectiveNamed(model.objective ?? defaultOf('objective'));
      const split = splitFromOptions(o);
      const prepared = await prepareDomain(gdb, o.domain, { split, tokenBuckets: model.tokenBuckets });
      // Objectives that train on the validation carve count it as training (see trainingEvents).
      const trainingEvents = prepared.train.users.length + (objective.trainsOnValidation ? (prepared.validation?.users.length ?? 0) : 0);
      note(`${o.domain}: ${prepared.userDbIds.length} users, ${prepared.itemDbIds.length} items, ${trainingEvents} training and ${prepared.test.users.length} test interactions`);
      if (o.budget && !o.auto) throw new GraftError('BAD_INPUT', '--budget applies to --auto only; drop it or add --auto');
      let search: SearchReport | undefined;
      let trained: TrainedModel;
      if (o.auto) {
        const budget = o.budget ?? DEFAULT_SEARCH_BUDGET;
        // A named --objective is the user's choice: the search keeps it.
        const fixedObjective = typed.objective != null;
        note(`--auto: searching ${fixedObjective ? `${objective.name}'s settings` : `the objective (${TRAINING_OBJECTIVES.join(', ')}; ${objective.name} first), each one's settings`} and the epochs on the validation carve (budget ${formatSearchBudget(budget)})...`);
        const found = await autoPretrain(prepared, { model, training, evaluation, device: o.device, budget, fixedObjective }, {
          onTrial: (t) => note(`trial #${t.config} rung ${t.rung} (${t.epochs} epochs): ${t.label} -> validation ${t.validation.toFixed(4)} in ${t.seconds.toFixed(1)} s`),
        });
        trained = found.trained;
        search = found.search;
        if (!o.json) note(formatSearch(search).join('\n'));
        const audience = trained.config.itemAudienceChoice as ItemAudienceChoice | undefined;
        if (audience && !o.json) note(formatItemAudience(audience, describeSearchMetric(evaluation)));
      } else {
        const progress = trainingProgress(o.domain);
        trained = await pretrain(prepared, { model, training, evaluation, device: o.device }, progress);
        progress.stop();
      }
      const record = await registerTrainedModel(gdb, { domain: o.domain, kind: 'PRETRAIN' }, trained);
      const m = trained.metrics;
      // No test set is a choice (--split none); a test file of which nothing could be scored is a failure.
      const noTestSet = split.kind === 'none';
      if (noTestSet) note(`no test set (--split none): the model trained on every event and is not evaluated; give --split loo or --test-file F to evaluate it`);
      else note(formatTestSet({ users: m.users, rows: m.rows }, m.dropped, unknownUserInDomain(o.domain), o.domain));
      if (m.training.refinedEpochs !== undefined && !o.json) note(formatItemRowRefinement(m.training));
      if (m.training.topShare !== undefined && !o.json) note(formatTopShare(m.training.topShare, m.training.bestEpoch));
      if (m.training.popularityTerm && !o.json) note(formatPopularityTerm(m.training.popularityTerm, describeSearchMetric(evaluation)));
      const scoringChoice = trained.config.scoringChoice as ScoringChoice | undefined;
      if (scoringChoice && !o.json) note(formatScoringChoice(scoringChoice, describeSearchMetric(evaluation)));
      const rowInitChoice = trained.config.rowInitChoice as RowInitChoice | undefined;
      if (rowInitChoice && !o.json) note(formatRowInitChoice(rowInitChoice, describeSearchMetric(evaluation)));
      if (!noTestSet && m.users === 0) {
        note(`no test user could be evaluated, so there are no metrics; the model is registered (${record.id})`);
        nothingEvaluated = true;
      }
      const evaluated = m.users > 0;
      if (o.json) {
        process.stdout.write(
          `${JSON.stringify({
            model: record.id,
            version: record.version,
            metrics: evaluated ? m.test : null,
            popularity: evaluated ? m.popularity : null,
            strata: m.strata,
            evaluated: { users: m.users, rows: m.rows ?? 0 },
            dropped: m.dropped,
            ...(noTestSet ? { note: 'no test set (--split none)' } : {}),
            backend: trained.backend,
            examplesPerSecond: m.training.examplesPerSecond,
            ...(m.training.popularityTerm ? { popularityTerm: m.training.popularityTerm } : {}),
            ...(trained.config.itemAudienceChoice ? { itemAudience: trained.config.itemAudienceChoice } : {}),
            ...(scoringChoice ? { scoring: scoringChoice } : {}),
            ...(rowInitChoice ? { rowInit: rowInitChoice } : {}),
            ...(search ? { search } : {}),
          })}\n`,
        );
      } else {
        if (evaluated) note(formatMetrics(m));
        note(`backend ${trained.backend.backend} (${trained.backend.device}), ${trained.metrics.training.examplesPerSecond.toLocaleString('en-US')} examples/s`);
        process.stdout.write(`${record.id}\n`);
      }
    });
    // After the database closed: closing PGlite resets process.exitCode.
    if (nothingEvaluated) process.exitCode = 1;
  });
}
