import type { Command } from 'commander';
import { formatMetrics } from '../format-metrics.js';
import { splitFromOptions } from '../split-options.js';
import { withDatabase } from '../with-database.js';
import { evaluateStoredModel } from '../../workflows/evaluate-stored-model.js';
import { addEvaluationOptions } from './train.command.js';
import { oneOf } from '../options.js';

export function registerEval(program: Command): void {
  const command = program
    .command('eval')
    .description("evaluate a registered model on its domain's test split (or a held-out file), next to popularity")
    .requiredOption('--model <id>', 'model id (see `graft models`)')
    .option('--test-file <file>', 'held-out test interactions (user, item) instead of the split the model was trained with')
    .option('--format <format>', 'format of --test-file', oneOf('format', ['tsv', 'csv'] as const), 'tsv')
    .option('--json', 'print one JSON object');
  addEvaluationOptions(command);
  command.action(async (o: { model: string; testFile?: string; format: 'tsv' | 'csv'; protocol: 'full' | 'sampled'; negatives: number; k: number[]; seed: number; json?: boolean }) => {
    await withDatabase(async (gdb) => {
      const split = o.testFile ? splitFromOptions({ split: 'loo', testFile: o.testFile, format: o.format }) : undefined;
      const { model, metrics } = await evaluateStoredModel(gdb, o.model, { protocol: o.protocol, negatives: o.negatives, ks: o.k, seed: o.seed }, split);
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ model: model.id, domain: model.domain, protocol: metrics.protocol, users: metrics.users, metrics: metrics.test, popularity: metrics.popularity, strata: metrics.strata })}\n`);
      } else {
        process.stdout.write(`model ${model.id} (${model.domain} v${model.version})\n${formatMetrics(metrics)}\n`);
      }
    });
  });
}
