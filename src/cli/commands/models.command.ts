import type { Command } from 'commander';
import { activateModel, listModels, retireModel, rollbackModel, type ModelRecord } from '../../registry/index.js';
import { note, withDatabase } from '../with-database.js';

function describe(m: ModelRecord): string {
  const test = (m.metrics as { test?: Record<string, number> }).test ?? {};
  const hr = test['hr@10'] === undefined ? '' : ` hr@10 ${test['hr@10'].toFixed(4)}`;
  const lineage = m.parentModelId ? ` from ${m.parentModelId}` : '';
  const flag = m.negativeTransfer ? ' NEGATIVE-TRANSFER' : '';
  return `${m.id}  ${m.domain} v${m.version}  ${m.status.padEnd(8)} ${m.kind}${m.strategy ? `/${m.strategy}` : ''}${lineage}${hr}${flag}`;
}

export function registerModels(program: Command): void {
  program
    .command('models')
    .description('list registered models, newest first')
    .option('--domain <name>', 'only this domain')
    .option('--json', 'print JSON')
    .action(async (o: { domain?: string; json?: boolean }) => {
      await withDatabase(async (gdb) => {
        const models = await listModels(gdb.db, { domain: o.domain });
        if (o.json) process.stdout.write(`${JSON.stringify(models)}\n`);
        else if (models.length === 0) note('no models yet; train one with `graft train --domain NAME`');
        else for (const m of models) process.stdout.write(`${describe(m)}\n`);
      });
    });

  program
    .command('activate')
    .description('make a model the one serving its domain (atomic; the previous one can be restored with rollback)')
    .argument('<model>', 'model id')
    .option('--force', 'activate even a model flagged as negative transfer')
    .action(async (modelId: string, o: { force?: boolean }) => {
      await withDatabase(async (gdb) => {
        const result = await activateModel(gdb.db, modelId, { force: o.force });
        note(`${result.domain}: ${result.model.id} (v${result.model.version}) is active${result.previousModelId ? `; was ${result.previousModelId}` : ''}`);
      });
    });

  program
    .command('rollback')
    .description('return a domain to the model that was active before the current one')
    .requiredOption('--domain <name>', 'domain')
    .action(async (o: { domain: string }) => {
      await withDatabase(async (gdb) => {
        const result = await rollbackModel(gdb.db, o.domain);
        note(`${result.domain}: rolled back to ${result.model.id} (v${result.model.version})`);
      });
    });

  program
    .command('retire')
    .description('take a model out of service for good')
    .argument('<model>', 'model id')
    .action(async (modelId: string) => {
      await withDatabase(async (gdb) => {
        const m = await retireModel(gdb.db, modelId);
        note(`${m.id} is ${m.status}`);
      });
    });
}
