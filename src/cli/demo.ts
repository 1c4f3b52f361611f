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
 * What `graft start` finds in its database: nothing (set the demo up), the demo's set-up cut
 * short (only the demo's domains and no API key yet: an earlier `graft start` stopped before
 * the end, so finish it), or anything else (serve it as it is).
 */
export type DemoState = 'empty' | 'unfinished' | 'other';

export async function demoState(gdb: GraftDatabase): Promise<DemoState> {
  const domains = await gdb.db.selectFrom('domains').select('name').execute();
  if (domains.length === 0) return 'empty';
  const demoDomains = new Set<string>([DEMO_SEED.sourceName, DEMO_SEED.targetName]);
  if (!domains.every((d) => demoDomains.has(d.name))) return 'other';
  const key = await gdb.db.selectFrom('api_keys').select('id').limit(1).executeTakeFirst();
  return key ? 'other' : 'unfinished';
}

/**
 * The whole product on an empty database: seed a synthetic source and sparse target,
 * pretrain on the source, transfer to the target (PARTIAL, replay on), activate the
 * transferred model when the transfer paid off (else the baseline comparison says why),
 * and create an admin key. Returns the key (shown once) and what was activated.
 *
 * Resumable: on a database an earlier run left unfinished (`demoState`), the steps already
 * done are kept (both domains' events, the active source model, the transfer registered from
 * it) and the rest is run. Each step is written in one transaction (an import, a model's
 * registration, an activation), so a cut leaves whole steps or none.
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
  const done = await doneSteps(gdb);
  if (done.seeded) {
    note(`demo data already seeded (an earlier \`graft start\` stopped before the end): finishing the set-up`);
  } else {
    const why = done.domains > 0 ? 'an earlier `graft start` stopped while seeding' : 'empty database';
    note(`${why}: seeding the synthetic demo (${seedOptions.users} users, seed ${DEMO_SEED.seed})...`);
    // `force`: a domain an interrupted seeding left without its events is seeded again.
    const summary = await seedSynthetic(gdb, { ...seedOptions, force: true });
    for (const d of summary.domains) {
      note(`  ${d.role} domain "${d.name}": ${d.items.toLocaleString('en-US')} items, ${d.events.toLocaleString('en-US')} events, ${d.usersWithEvents.toLocaleString('en-US')} users with events`);
    }
  }

  let sourceModelId = done.sourceModelId;
  if (sourceModelId) {
    note(`  source model ${sourceModelId}: trained and active already`);
  } else {
    note(`[${elapsed()}] pretraining on "${DEMO_SEED.sourceName}"...`);
    const prepared = await prepareDomain(gdb, DEMO_SEED.sourceName, { split: DEFAULT_SPLIT, tokenBuckets: DEFAULT_MODEL.tokenBuckets });
    const progress = trainingProgress(`${DEMO_SEED.sourceName} pretrain`);
    const trained = await pretrain(prepared, { model: DEFAULT_MODEL, training: DEMO_TRAINING, evaluation: DEMO_EVALUATION }, progress);
    progress.stop();
    const source = await registerTrainedModel(gdb, { domain: DEMO_SEED.sourceName, kind: 'PRETRAIN' }, trained);
    await activateModel(gdb.db, source.id);
    sourceModelId = source.id;
    const scoring = trained.config.scoringChoice as ScoringChoice | undefined;
    note(`  source model ${source.id} (v${source.version}): HR@10 ${fmt(trained.metrics.test['hr@10'])} vs popularity ${fmt(trained.metrics.popularity['hr@10'])}${scoring ? `; ${formatScoringChoice(scoring, describeSearchMetric(DEMO_EVALUATION))}` : ''}`);
    const rowInit = trained.config.rowInitChoice as RowInitChoice | undefined;
    if (rowInit) note(`  ${formatRowInitChoice(rowInit, describeSearchMetric(DEMO_EVALUATION))}`);
  }

  const transferred = await transferredFrom(gdb, sourceModelId);
  if (transferred) {
    note(`  target model ${transferred.id}: transferred already${transferred.active ? ' and active' : ''}`);
  }
  const target = transferred ?? (await transferStep(gdb, sourceModelId, { training: DEMO_TRAINING, note, trainingProgress, elapsed }));
  const { key } = await createApiKey(gdb.db, { name: 'demo-admin', role: 'ADMIN' });
  note(`[${elapsed()}] demo ready`);
  return { adminKey: key, targetModelId: target.id, sourceModelId, activated: target.active };
}

interface DemoOutput {
  training: typeof DEFAULT_TRAINING;
  note: (line: string) => void;
  trainingProgress: typeof printProgress;
  elapsed: () => string;
}

/** The demo's transfer from the source model, registered, and activated when it pays off. */
async function transferStep(gdb: GraftDatabase, sourceModelId: string, { training, note, trainingProgress, elapsed }: DemoOutput): Promise<{ id: string; active: boolean }> {
  note(`[${elapsed()}] transferring to "${DEMO_SEED.targetName}" (PARTIAL, lowest layer frozen, source replay on) and training a same-budget baseline and the JOINT reference...`);
  const preparedTransfer = await prepareTransfer(gdb, sourceModelId, DEMO_SEED.targetName, { split: DEFAULT_SPLIT, coldStartShare: 0.1, seed: 42 });
  let progress = trainingProgress(`${DEMO_SEED.targetName} transfer`);
  const { trained: transferred, report } = await transfer(
    preparedTransfer,
    { ...DEFAULT_TRANSFER, strategy: 'PARTIAL', freezeLayers: 1, training, evaluation: DEMO_EVALUATION, seed: 42 },
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
    { domain: DEMO_SEED.targetName, kind: 'TRANSFER', strategy: 'PARTIAL', parentModelId: sourceModelId, transferReport: report as unknown as Record<string, unknown>, negativeTransfer: report.negativeTransfer },
    transferred,
  );
  const gain = report.gain['hr@10']!;
  note(
    `  target model ${target.id}: HR@10 ${fmt(report.metrics['hr@10'])} vs target-only baseline ${fmt(report.baseline['hr@10'])} ` +
      `(gain ${gain.value >= 0 ? '+' : ''}${gain.value.toFixed(3)} [${gain.ci95[0].toFixed(3)}, ${gain.ci95[1].toFixed(3)}])`,
  );
  if (report.negativeTransfer) {
    note('  flagged as negative transfer: not activated (the target domain falls back to popularity)');
    return { id: target.id, active: false };
  }
  await activateModel(gdb.db, target.id);
  return { id: target.id, active: true };
}

/** What an earlier, interrupted run of the demo finished: the demo's domains created, both seeded, the source model trained and active. */
async function doneSteps(gdb: GraftDatabase): Promise<{ domains: number; seeded: boolean; sourceModelId?: string }> {
  const domains = await gdb.db
    .selectFrom('domains')
    .select(['name', 'active_model_id', (eb) => eb.exists(eb.selectFrom('events').select('events.domain_id').whereRef('events.domain_id', '=', 'domains.id')).as('has_events')])
    .where('name', 'in', [DEMO_SEED.sourceName, DEMO_SEED.targetName])
    .execute();
  const seeded = domains.length === 2 && domains.every((d) => Boolean(d.has_events));
  const source = domains.find((d) => d.name === DEMO_SEED.sourceName)?.active_model_id ?? undefined;
  return { domains: domains.length, seeded, ...(seeded && source ? { sourceModelId: source } : {}) };
}

/** The demo's transfer from `sourceModelId` when one is registered already, and whether it is the target's active model. */
async function transferredFrom(gdb: GraftDatabase, sourceModelId: string): Promise<{ id: string; active: boolean } | undefined> {
  const row = await gdb.db
    .selectFrom('models')
    .innerJoin('domains', 'domains.id', 'models.domain_id')
    .select(['models.id', 'domains.active_model_id'])
    .where('domains.name', '=', DEMO_SEED.targetName)
    .where('models.kind', '=', 'TRANSFER')
    .where('models.parent_model_id', '=', sourceModelId)
    .orderBy('models.version', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row ? { id: row.id, active: row.active_model_id === row.id } : undefined;
}

function fmt(x: number | undefined): string {
  return x === undefined ? '-' : x.toFixed(3);
}

function quietProgress(_label: string) {
  return { onStep: () => {}, onEpoch: () => {}, stop: () => {} };
}
