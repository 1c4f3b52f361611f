import type { Command } from 'commander';
import { GraftError } from '../../errors.js';
import { formatMetrics, formatTestSet } from '../format-metrics.js';
import { splitFromOptions } from '../split-options.js';
import { withDatabase } from '../with-database.js';
import { evaluateStoredModel } from '../../workflows/evaluate-stored-model.js';
import { addSettingOptions, typedSettings } from '../setting-options.js';
import { resolveEvaluationSettings } from '../../workflows/settings/run-settings.js';
import { oneOf } from '../options.js';

export function registerEval(program: Command): void {
  const command = program
    .command('eval')
    .description("evaluate a registered model on its domain's test split (or a held-out file), next to popularity")
    .requiredOption('--model <id>', 'model id (see `graft models`)')
    .option('--test-file <file>', 'held-out test interactions (user, item) instead of the split the model was trained with')
    .option('--format <format>', 'format of --test-file', oneOf('format', ['tsv', 'csv'] as const), 'tsv')
    .option('--json', 'print one JSON object');
  addSettingOptions(command, 'eval');
  // One name, one meaning: --seed is the training seed in train and transfer, and eval trains nothing.
  command.option('--seed <n>', 'not an eval option: the negatives\' seed is --eval-seed');
  command.action(async (o: { model: string; testFile?: string; format: 'tsv' | 'csv'; seed?: string; json?: boolean }) => {
    if (o.seed !== undefined) {
      throw new GraftError('BAD_INPUT', `--seed ${o.seed} is the training seed (train, transfer) and eval trains nothing; the seed of the sampled negatives is --eval-seed (e.g. --eval-seed ${o.seed})`);
    }
    let nothingEvaluated = false;
    await withDatabase(async (gdb) => {
      const split = o.testFile ? splitFromOptions({ split: 'loo', testFile: o.testFile, format: o.format }) : undefined;
      const evaluation = resolveEvaluationSettings(typedSettings(command, 'eval'));
      const { model, metrics } = await evaluateStoredModel(gdb, o.model, evaluation, split);
      const testSet = formatTestSet({ users: metrics.users, rows: metrics.rows }, metrics.dropped, `a user with no events in ${model.domain} and no row in the model`, model.domain);
      nothingEvaluated = metrics.users === 0;
      if (o.json) {
        const evaluated = metrics.users > 0;
        process.stdout.write(
          `${JSON.stringify({
            model: model.id,
            domain: model.domain,
            protocol: metrics.protocol,
            users: metrics.users,
            evaluated: { users: metrics.users, rows: metrics.rows ?? 0 },
            dropped: metrics.dropped,
            metrics: evaluated ? metrics.test : null,
            popularity: evaluated ? metrics.popularity : null,
            strata: metrics.strata,
          })}\n`,
        );
        process.stderr.write(`${testSet}\n`);
      } else {
        process.stdout.write(`model ${model.id} (${model.domain} v${model.version})\n${testSet}\n${formatMetrics(metrics)}\n`);
      }
    });
    // After the database closed: closing PGlite resets process.exitCode.
    if (nothingEvaluated) process.exitCode = 1;
  });
}
