import type { Command } from 'commander';
import { activateModel } from '../../registry/activation.js';
import { GraftError } from '../../errors.js';
import { parseStrategyChoice, type TransferStrategyName } from '../../transfer/transfer-strategy.js';
import { DEFAULT_SEARCH_BUDGET, formatSearchBudget, parseSearchBudget, type SearchBudget } from '../../tuning/search-budget.js';
import { describeGuard, type MetricGain, type TransferReport } from '../../transfer/transfer-report.js';
import { resolveTransferSettings } from '../../workflows/settings/run-settings.js';
import { prepareTransfer } from '../../workflows/prepare-transfer.js';
import { registerTransferResult } from '../../workflows/register-trained-model.js';
import { transfer } from '../../workflows/transfer.workflow.js';
import { oneOf, positiveInt, positiveNumber, unitInterval } from '../options.js';
import { addSettingOptions, typedSettings } from '../setting-options.js';
import { formatSearch, formatTestSet } from '../format-metrics.js';
import { splitFromOptions, type SplitCliOptions } from '../split-options.js';
import { trainingProgress } from '../training-progress.js';
import { note, withDatabase } from '../with-database.js';
import { addSplitOptions } from './train.command.js';

interface TransferCliOptions extends SplitCliOptions {
  from: string;
  to: string;
  strategy: string;
  budget?: SearchBudget;
  coldStartShare?: number;
  activate?: boolean;
  device: 'AUTO' | 'CPU' | 'GPU';
  seed?: number;
  json?: boolean;
}

export function registerTransfer(program: Command): void {
  const command = program
    .command('transfer')
    .description('graft a pretrained model onto a target domain, fine-tune it, and compare it with a target-only baseline of the same budget')
    .requiredOption('--from <model>', 'source model id (see `graft models`)')
    .requiredOption('--to <domain>', 'target domain')
    .option('--strategy <name>', 'auto (search strategies and settings on a validation carve of the target training data), feature-extraction, partial, full (graft the source model\'s weights) or joint (train from scratch on the source and target events together)', 'auto')
    .option('--budget <b>', `auto: trials (configurations, e.g. 24) or time (e.g. 10m) for each of its two searches (the transfer's and the baseline's); default ${formatSearchBudget(DEFAULT_SEARCH_BUDGET)}`, (v: string) => parseSearchBudget(v))
    .option('--cold-start-share <s>', 'synthetic cold-start carve: share of overlapping users whose whole target history is moved to test (default 0.1 with --split, 0 with --test-file: a fixed split is kept as it is)', unitInterval('cold-start-share'))
    .option('--activate', 'activate the result if its gain is positive (never a negative-transfer model)')
    .option('--device <device>', 'AUTO, CPU or GPU', oneOf('device', ['AUTO', 'CPU', 'GPU'] as const), 'AUTO')
    .option('--json', 'print one JSON object');
  addSettingOptions(command, 'transfer');
  addSplitOptions(command);
  command.option('--seed <n>', 'the training seed (alias of --training-seed; the negatives\' seed is --eval-seed)', positiveInt('seed'));
  command.action(async (o: TransferCliOptions) => {
    const strategy = parseStrategyChoice(o.strategy);
    if (o.budget && strategy !== 'AUTO') throw new GraftError('BAD_INPUT', `--budget applies to --strategy auto only; drop it or use --strategy auto`);
    // The typed settings resolve exactly as a job's input does (declared bounds and defaults, strategy-only settings refused elsewhere).
    const typed = typedSettings(command, 'transfer');
    if (o.seed !== undefined && typed.seed === undefined) typed.seed = o.seed;
    const settings = resolveTransferSettings(typed, strategy);
    const seed = settings.seed;
    await withDatabase(async (gdb) => {
      const prepared = await prepareTransfer(gdb, o.from, o.to, {
        split: splitFromOptions(o),
        coldStartShare: o.coldStartShare,
        seed,
        maxTargetTrainPerUser: settings.maxTrainPerUser,
        retrainedSources: strategy === 'AUTO',
      });
      for (const alt of prepared.alternativeSources ?? []) note(`AUTO: also searching transfers from ${alt.config.objective} model ${alt.modelId}, retrained earlier from ${o.from}`);
      let progress = trainingProgress(`${o.to} transfer`);
      const result = await transfer(
        prepared,
        {
          strategy,
          ...(strategy === 'AUTO' ? { budget: o.budget ?? DEFAULT_SEARCH_BUDGET } : {}),
          freezeLayers: settings.freezeLayers,
          replayWeight: settings.replayWeight,
          replayFraction: settings.replayFraction,
          jointReference: settings.jointReference,
          tokenDropout: settings.tokenDropout,
          itemBias: settings.itemBias,
          training: settings.training,
          evaluation: settings.evaluation,
          seed,
          device: o.device,
        },
        {
          onStep: (p) => progress.onStep(p),
          onEpoch: (p) => progress.onEpoch(p),
          onTrial: (t) => note(`trial ${t.search} #${t.config} rung ${t.rung} (${t.epochs} epochs): ${t.label} -> validation ${t.validation.toFixed(4)} in ${t.seconds.toFixed(1)} s`),
          onPhase: (phase) => {
            progress.stop();
            if (phase === 'search') note(`AUTO: searching strategies and settings on the validation carve (budget ${formatSearchBudget(o.budget ?? DEFAULT_SEARCH_BUDGET)} per search)...`);
            if (phase === 'baseline') progress = trainingProgress(`${o.to} baseline`);
            if (phase === 'joint') progress = trainingProgress(`${o.to} JOINT reference`);
            if (phase === 'evaluation') note('evaluating the transferred model, the baseline and popularity on the same test users...');
          },
        },
      );
      progress.stop();
      const { trained, report } = result;
      const { record, retrainedSource } = await registerTransferResult(
        gdb,
        {
          domain: o.to,
          transferReport: report as unknown as Record<string, unknown>,
          negativeTransfer: report.negativeTransfer,
        },
        result,
        o.from,
      );
      // AUTO registered the strategy it chose (or a target-only model when no transfer won), and the source it retrained.
      if (retrainedSource) note(`AUTO trained and registered ${retrainedSource.id}, an implicit-ALS model of ${retrainedSource.domain} retrained from ${o.from}, and searched transfers from it too; the next AUTO transfer from ${o.from} reuses it`);
      let activated = false;
      if (o.activate && !report.negativeTransfer) {
        await activateModel(gdb.db, record.id);
        activated = true;
      }
      if (o.json) {
        process.stdout.write(
          `${JSON.stringify({
            model: record.id,
            parent: record.parentModelId,
            ...(retrainedSource ? { retrainedSource: retrainedSource.id } : {}),
            outcome: report.outcome,
            kind: record.kind,
            strategy: report.strategy,
            chosenBy: report.search ? 'AUTO' : undefined,
            search: report.search,
            metrics: report.metrics,
            baseline: report.baseline,
            popularity: report.popularity,
            gain: report.gain,
            gainOverPopularity: report.gainOverPopularity,
            joint: report.joint,
            guard: report.guard,
            negativeTransfer: report.negativeTransfer,
            overlap: report.overlap,
            strata: report.strata,
            evaluated: { users: report.users, rows: report.rows },
            dropped: report.dropped,
            coldStart: report.coldStart,
            coldStartTestUsers: prepared.coldStartTestUsers,
            replayWeight: report.replayWeight,
            start: report.start,
            sourceEvents: report.sourceEvents,
            activated,
            backend: trained.backend,
          })}\n`,
        );
      } else {
        note(formatTransferReport(report));
        if (o.activate) note(activated ? 'activated' : 'not activated: flagged as negative transfer (use `graft activate --force` to override)');
        process.stdout.write(`${record.id}\n`);
      }
    });
  });
}

/** The transfer report as a small table: transferred vs baseline vs popularity, both gains with their intervals. */
export function formatTransferReport(report: TransferReport): string {
  const metrics = Object.keys(report.gain).filter((k) => /^(hr|ndcg)@/.test(k));
  const f = (x: number | undefined) => (x === undefined ? '-' : x.toFixed(4));
  const g = (x: MetricGain | undefined) => (x === undefined ? '-' : `${x.value >= 0 ? '+' : ''}${x.value.toFixed(4)} [${x.ci95[0].toFixed(4)}, ${x.ci95[1].toFixed(4)}]`);
  const lines = [
    ...(report.search ? formatSearch(report.search) : []),
    report.outcome === 'TARGET_ONLY' ? report.frozen : `${report.strategy}: ${report.frozen}; ${describeSourceEvents(report)}`,
    `overlap: ${report.overlap.usersInBoth} users in both domains, ${report.overlap.targetOnlyUsers} target-only, ${report.overlap.usersWithoutTargetHistory} with no target history`,
    formatTestSet({ users: report.users, rows: report.rows }, report.dropped, 'a user in neither the target domain nor the source model', 'the target domain'),
    ...(report.coldStart ? [describeColdStart(report.coldStart)] : []),
    `${'metric'.padEnd(10)} ${'transfer'.padStart(9)} ${'baseline'.padStart(9)} ${'popular'.padStart(9)}  ${'gain over baseline [95% CI]'.padEnd(32)} gain over popularity [95% CI]`,
  ];
  for (const m of metrics) {
    lines.push(`${m.padEnd(10)} ${f(report.metrics[m]).padStart(9)} ${f(report.baseline[m]).padStart(9)} ${f(report.popularity[m]).padStart(9)}  ${g(report.gain[m]).padEnd(32)} ${g(report.gainOverPopularity?.[m])}`);
  }
  const guard = report.guardMetric;
  for (const s of report.strata.filter((x) => x.users > 0)) {
    lines.push(`  ${`${s.label} train`.padEnd(10)} ${f(s.transferred[guard]).padStart(9)} ${f(s.baseline[guard]).padStart(9)} ${f(s.popularity[guard]).padStart(9)}  (${guard}, ${s.users} users)`);
  }
  if (report.joint) {
    const joint = report.joint;
    lines.push(`${joint.strategy} reference (from scratch on source + target events, same budget, same users and negatives; not part of the guard):`);
    for (const m of metrics) lines.push(`${m.padEnd(10)} ${f(joint.metrics[m]).padStart(9)}  gain over ${joint.strategy} ${g(joint.gain[m])}`);
  }
  lines.push(report.negativeTransfer ? `${describeGuard(report).replace(/^negative transfer/, 'NEGATIVE TRANSFER')}; not activated automatically` : describeGuard(report));
  return lines.join('\n');
}

/** Which source events the model trained on (reports stored before `sourceEvents` say the replay weight only). */
function describeSourceEvents(report: TransferReport): string {
  const s = report.sourceEvents;
  if (!s) return `replay weight ${report.replayWeight}`;
  if (s.events === 0) return 'no source events in training';
  const origin = report.start === 'scratch' ? 'trained on' : 'replayed';
  return `${origin} ${s.events} source events at weight ${s.weight} (${s.perEpoch === s.events ? 'all of them' : s.perEpoch} per epoch)`;
}

/** Where the "0" stratum's users come from, so that a reader knows whether the split was changed. */
function describeColdStart(c: NonNullable<TransferReport['coldStart']>): string {
  const carve =
    c.carve.users > 0
      ? `the cold-start carve moved the whole target history of ${c.carve.users} overlapping users (share ${c.carve.share}, seed ${c.carve.seed}) into test`
      : 'no cold-start carve (the split is as given)';
  const file = c.fromTestFile > 0 ? `; ${c.fromTestFile} test users have source history only, scored from their transferred rows (baseline: popularity)` : '';
  return `cold start ("0" stratum): ${carve}${file}`;
}

