import { createApiKey } from '../auth/index.js';
import type { GraftDatabase } from '../db/connect.js';
import { activateModel } from '../registry/activation.js';
import { DEFAULT_SPLIT } from '../workflows/split-spec.js';
import { DEFAULT_EVALUATION, DEFAULT_MODEL, DEFAULT_TRAINING } from '../workflows/model-settings.js';
import { prepareDomain } from '../workflows/prepared-domain.js';
import { prepareTransfer } from '../workflows/prepare-transfer.js';
import { pretrain, type RowInitChoice, type ScoringChoice } from '../workflows/pretrain.workflow.js';
import { describeSearchMetric } from '../workflows/selection-metric.js';
import { formatRowInitChoice, formatScoringChoice } from './format-metrics.js';
import { registerTrainedModel } from '../workflows/register-trained-model.js';
import { DEFAULT_TRANSFER, transfer } from '../workflows/transfer.workflow.js';
import { seedSynthetic } from '../../seeds/seed-database.js';
import { trainingProgress as printProgress } from './training-progress.js';
import { note as printNote } from './with-database.js';

/** Size of the demo that `npm start` seeds into an empty database. */
export const DEMO_SEED = { users: 1000, seed: 42, sourceName: 'source', targetName: 'target' } as const;

/** Training budget of the demo: small enough for well under a minute on one core. */
const DEMO_EPOCHS = 4;
const DEMO_EVALUATION = { ...DEFAULT_EVALUATION, negatives: 199 };

/**
 * The whole product on an empty database: seed a synthetic source and sparse target,
 * pretrain on the source, transfer to the target (PARTIAL, replay on), activate the
 * transferred model when the transfer paid off (else the baseline comparison says why),
 * and create an admin key. Returns the key (shown once) and what was activated.
 */
export async function runDemo(
  gdb: GraftDatabase,
  options: { users?: number; epochs?: number; quiet?: boolean } = {},
): Promise<{ adminKey: string; targetModelId: string; sourceModelId: string; activated: boolean }> {
  const note = options.quiet ? () => {} : printNote;
  const DEMO_TRAINING = { ...DEFAULT_TRAINING, epochs: options.epochs ?? DEMO_EPOCHS };
  const trainingProgress = options.quiet ? quietProgress : printProgress;
  const seedOptions = { ...DEMO_SEED, users: options.users ?? DEMO_SEED.users };
  const started = performance.now();
  const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)} s`;
  note(`empty database: seeding the synthetic demo (${seedOptions.users} users, seed ${DEMO_SEED.seed})...`);
  const summary = await seedSynthetic(gdb, seedOptions);
  for (const d of summary.domains) {
    note(`  ${d.role} domain "${d.name}": ${d.items.toLocaleString('en-US')} items, ${d.events.toLocaleString('en-US')} events, ${d.usersWithEvents.toLocaleString('en-US')} users with events`);
  }

  note(`[${elapsed()}] pretraining on "${DEMO_SEED.sourceName}"...`);
  const prepared = await prepareDomain(gdb, DEMO_SEED.sourceName, { split: DEFAULT_SPLIT, tokenBuckets: DEFAULT_MODEL.tokenBuckets });
  let progress = trainingProgress(`${DEMO_SEED.sourceName} pretrain`);
  const trained = await pretrain(prepared, { model: DEFAULT_MODEL, training: DEMO_TRAINING, evaluation: DEMO_EVALUATION }, progress);
  progress.stop();
  const source = await registerTrainedModel(gdb, { domain: DEMO_SEED.sourceName, kind: 'PRETRAIN' }, trained);
  await activateModel(gdb.db, source.id);
  const scoring = trained.config.scoringChoice as ScoringChoice | undefined;
  note(`  source model ${source.id} (v${source.version}): HR@10 ${fmt(trained.metrics.test['hr@10'])} vs popularity ${fmt(trained.metrics.popularity['hr@10'])}${scoring ? `; ${formatScoringChoice(scoring, describeSearchMetric(DEMO_EVALUATION))}` : ''}`);
  const rowInit = trained.config.rowInitChoice as RowInitChoice | undefined;
  if (rowInit) note(`  ${formatRowInitChoice(rowInit, describeSearchMetric(DEMO_EVALUATION))}`);

  note(`[${elapsed()}] transferring to "${DEMO_SEED.targetName}" (PARTIAL, lowest layer frozen, source replay on) and training a same-budget baseline and the JOINT reference...`);
  const preparedTransfer = await prepareTransfer(gdb, source.id, DEMO_SEED.targetName, { split: DEFAULT_SPLIT, coldStartShare: 0.1, seed: 42 });
  progress = trainingProgress(`${DEMO_SEED.targetName} transfer`);
  const { trained: transferred, report } = await transfer(
    preparedTransfer,
    { ...DEFAULT_TRANSFER, strategy: 'PARTIAL', freezeLayers: 1, training: DEMO_TRAINING, evaluation: DEMO_EVALUATION, seed: 42 },
    {
      onStep: (p) => progress.onStep(p),
      onEpoch: (p) => progress.onEpoch(p),
      onPhase: (phase) => {
        progress.stop();
        if (phase === 'baseline') progress = trainingProgress(`${DEMO_SEED.targetName} baseline`);
        if (phase === 'joint') progress = trainingProgress(`${DEMO_SEED.targetName} JOINT reference`);
      },
    },
  );
  progress.stop();
  const target = await registerTrainedModel(
    gdb,
    { domain: DEMO_SEED.targetName, kind: 'TRANSFER', strategy: 'PARTIAL', parentModelId: source.id, transferReport: report as unknown as Record<string, unknown>, negativeTransfer: report.negativeTransfer },
    transferred,
  );
  const gain = report.gain['hr@10']!;
  note(
    `  target model ${target.id}: HR@10 ${fmt(report.metrics['hr@10'])} vs target-only baseline ${fmt(report.baseline['hr@10'])} ` +
      `(gain ${gain.value >= 0 ? '+' : ''}${gain.value.toFixed(3)} [${gain.ci95[0].toFixed(3)}, ${gain.ci95[1].toFixed(3)}])`,
  );
  let activated = false;
  if (!report.negativeTransfer) {
    await activateModel(gdb.db, target.id);
    activated = true;
  } else {
    note('  flagged as negative transfer: not activated (the target domain falls back to popularity)');
  }
  const { key } = await createApiKey(gdb.db, { name: 'demo-admin', role: 'ADMIN' });
  note(`[${elapsed()}] demo ready`);
  return { adminKey: key, targetModelId: target.id, sourceModelId: source.id, activated };
}

function fmt(x: number | undefined): string {
  return x === undefined ? '-' : x.toFixed(3);
}

function quietProgress(_label: string) {
  return { onStep: () => {}, onEpoch: () => {}, stop: () => {} };
}
