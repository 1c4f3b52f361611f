/**
 * Transfer quality: popularity, a target-only model, and each strategy (with and without
 * source replay), on the full target and on a sparse variant (at most 2 target training
 * interactions per user, fixed seed). The sampled protocol (999 negatives drawn uniformly
 * from training items the user has not interacted with, seed 2040), HR@10 and NDCG@10.
 *
 *   npm run build && node dist/bench/transfer.js --dataset synthetic [--users 2000]
 *   npm run build && node dist/bench/transfer.js --dataset amazon [--data ../shared/data/amazon-sport-cloth | ../shared/data/amazon-sport-phone]
 *     [--epochs 10] [--only target|transfer] [--strategies FEATURE_EXTRACTION,PARTIAL,FULL,JOINT,AUTO,JOINT_TUNED] [--budget 16 | 10m]   (AUTO: searched on the validation carve; one row, replay searched.
 *     JOINT_TUNED: the joint reference with its settings chosen by the same search on the same carve, AUTO narrowed to JOINT, always retrained as JOINT;
 *     plain joint ALS: popularityWeight is not searched there)
 *     [--replay 0,0.5] [--replay-fraction 1] [--variants full,sparse] [--dim 64] [--temperature 0.1] [--scoring cosine|inner-product] [--user-history | --no-user-history] [--user-id | --no-user-id] [--seed 42] [--threads N] [--json out.json]
 *     [--item-init random,co-users,implicit-als] [--history-dropout 0.5] [--user-id-dropout 0.8] [--item-audience] [--item-id-dropout 0.8] [--no-refine-item-rows] [--row-init implicit-als|random] [--uniform-negatives 256] [--no-logq] [--l2 0] [--lr 0.003] [--layers 128,64]
 *     [--item-bias] [--transfer-item-bias] [--item-bias-lr 30] [--batch-size 256]
 *     [--no-retrain-source]   (AUTO from a softmax or hybrid source: search the given source only, no implicit-ALS twin)
 *     [--adam-bias-correction table|row]   (lazy Adam on the tables: the table's step count or each row's) [--patience 3]
 *     [--recipes "name: --flag value ...; name: ..."]   (target only: one model per recipe in this run, each recipe's
 *     flags on top of the command's; the trainer's validation HR@10 is printed beside test: choose on it; with transfers,
 *     one source model per recipe, each with the recipe's --strategies: "als: --objective implicit-als; hybrid: --objective hybrid --strategies PARTIAL";
 *     then each recipe's transfers against the best of every other recipe's, user by user: the difference and its paired bootstrap 95% interval)
 *     [--refit]   (target only: also a fresh model trained on train + carve for the epochs the carve kept, scored on test)
 *     [--auto [--budget 16]]   (target only: graft train --auto, the settings searched on the validation carve; with --objective
 *     or --recipes that objective's settings (and the softmax's scoring), else the objectives too)
 *     [--transfer-objective hybrid]   (fixed strategies: these towers over the source's rows, e.g. a fresh hybrid top over implicit-ALS rows)
 *     [--objective softmax|implicit-als|hybrid] [--als-alpha 40] [--als-reg 0.1] [--als-cg-steps 3]   (implicit-als: ID rows solved per row, 0 = exact; --layers none)
 *     [--als-sweeps 10] [--top-lr 0.03]   (hybrid: ALS sweeps of the ID rows before the MLP above them trains for --epochs at --top-lr x --lr)
 *     [--joint-reference]   (every grafting transfer also trains the library's JOINT reference, same budget, same
 *     users and negatives: printed once per variant, and each transfer's paired gain over it. With --objective
 *     implicit-als this is the issue's reference: ALS from scratch on the joined user x (target + source items) matrix.
 *     Or list JOINT among --strategies to train it as a strategy of its own: --strategies JOINT,FULL)
 *     [--profile-popularity]   (target only: also each model + the popularity term β·log(1 + n_i), β chosen on the carve as AUTO does)
 *     [--refit-items 10,40] [--refit-reg 0.1]   (diagnostic: also score each transfer with its target
 *     items solved in closed form against its user vectors, the iALS item step at each alpha)
 *
 * synthetic: the seeded generator (source and sparse target sharing users), target split
 * leave-one-out (last), 10% of overlapping users held out entirely (cold-start stratum).
 * amazon: an Amazon pair of the DisenCDR release in ../shared/data (never copied into the
 * project): the folder `amazon-<source>-<target>` holds `<source>_<target>/` and
 * `<target>_<source>/`; the source domain is pretrained, the target's given train/test files
 * are used (Sport -> Cloth by default, Sport -> Phone with --data .../amazon-sport-phone; `--reverse` swaps the
 * roles: Cloth -> Sport, Phone -> Sport, where Sport's own train/test files are the target's).
 * Runs on a fresh embedded PGlite in a temp folder. Prints a markdown table.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connect, type GraftDatabase } from '../src/db/connect.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { importEventsFile } from '../src/logs/index.js';
import { readDataset } from '../src/dataset/read-dataset.js';
import { evaluate, evaluateWithPopularity, type EvaluationReport } from '../src/evaluation/evaluate.js';
import { pairedBootstrap } from '../src/evaluation/paired-bootstrap.js';
import { biasedEmbeddingScorer, embeddingScorer } from '../src/evaluation/embedding.scorer.js';
import { popularityScorer } from '../src/evaluation/popularity.scorer.js';
import type { TransferStrategyName } from '../src/transfer/transfer-strategy.js';
import type { TrainingObjective } from '../src/model/training-objective.js';
import { DEFAULT_SEARCH_BUDGET, formatSearchBudget, parseSearchBudget } from '../src/tuning/search-budget.js';
import { evaluationData } from '../src/workflows/evaluation-data.js';
import { DEFAULT_EVALUATION, DEFAULT_TRAINING, defaultModelFor, type ModelSettings, type TrainingSettings } from '../src/workflows/model-settings.js';
import { concatExamples, prepareDataset, type PreparedDomain } from '../src/workflows/prepared-domain.js';
import { capTrainPerUser, prepareTransfer } from '../src/workflows/prepare-transfer.js';
import { defaultUnlessBeaten, pretrain, rowInitProfiled, scoringOnCarve, scoringProfiled, type RowInitChoice, type ScoringChoice } from '../src/workflows/pretrain.workflow.js';
import { modelObjective, type ModelScoring } from '../src/model/objective.js';
import { autoPretrain } from '../src/workflows/auto-pretrain.js';
import { registerTrainedModel } from '../src/workflows/register-trained-model.js';
import { DEFAULT_TRANSFER, transfer } from '../src/workflows/transfer.workflow.js';
import { popularityProfiler, searchTransfer, validationScorer, type ValidationScore } from '../src/workflows/auto-transfer.js';
import { itemEventCounts } from '../src/training/popularity-bias.js';
import { transferContext } from '../src/workflows/transfer-candidate.js';
import { NEW_ITEM_INITS, type NewItemInit } from '../src/transfer/item-init.js';
import type { SplitSpec } from '../src/workflows/split-spec.js';
import { seedSynthetic } from '../seeds/seed-database.js';
import { csr, solveRows } from './implicit-als.js';
import { TwoTowerModel, type RowInit } from '../src/model/two-tower.model.js';
import { formatTopShare } from '../src/cli/format-metrics.js';
import { choosesPopularityTerm, freshCarveFreeFit, popularityTermChooser } from '../src/workflows/popularity-term.js';
import { DEFAULT_ROW_INIT, modelConfig, towerTokensFor } from '../src/workflows/model-settings.js';
import { fitModel, modelScorer, setUserHistoriesFrom, trainingEvents } from '../src/workflows/fit-and-evaluate.js';
import { initBackend } from '../src/model/backend.js';
import { objectiveNamed } from '../src/training/objectives/index.js';

const argv = process.argv.slice(2);
const arg = (name: string, fallback?: string) => {
  const at = argv.indexOf(`--${name}`);
  return at === -1 ? fallback : argv[at + 1];
};
const DATASET = arg('dataset', 'synthetic') as 'synthetic' | 'amazon';
const DATA = resolve(arg('data', '../shared/data/amazon-sport-cloth')!);
const PAIR = /amazon-([a-z]+)-([a-z]+)\/?$/.exec(DATA);
if (DATASET === 'amazon' && !PAIR) throw new Error(`--data ${DATA}: expected a folder named amazon-<source>-<target> (e.g. ../shared/data/amazon-sport-phone)`);
/** `--reverse`: the pair the other way round (the folder's second domain is the source): e.g. Cloth -> Sport, a pair no default was chosen on. */
const REVERSE = argv.includes('--reverse');
const SOURCE = DATASET === 'amazon' ? PAIR![REVERSE ? 2 : 1]! : 'source';
const TARGET = DATASET === 'amazon' ? PAIR![REVERSE ? 1 : 2]! : 'target';
const ONLY = arg('only');
const STRATEGIES = (arg('strategies', 'FEATURE_EXTRACTION,PARTIAL,FULL')!).split(',') as Array<TransferStrategyName | 'AUTO' | 'JOINT_TUNED'>;
const BUDGET = parseSearchBudget(arg('budget', formatSearchBudget(DEFAULT_SEARCH_BUDGET))!);
const REPLAY = (arg('replay', '0,0.5')!).split(',').map(Number);
const REPLAY_FRACTION = Number(arg('replay-fraction', '1'));
const ITEM_INITS = (arg('item-init', DEFAULT_TRANSFER.itemInit ?? 'random')!).split(',') as NewItemInit[];
for (const init of ITEM_INITS) if (!NEW_ITEM_INITS.includes(init)) throw new Error(`--item-init ${init} is unknown; use ${NEW_ITEM_INITS.join(', ')} (comma-separated for several)`);
const VARIANTS = (arg('variants', 'full,sparse')!).split(',') as Array<'full' | 'sparse'>;
const JOINT_REFERENCE = argv.includes('--joint-reference');
const EVALUATION = { ...DEFAULT_EVALUATION, protocol: 'sampled' as const, negatives: 999, ks: [10], seed: 2040 };
/** The model and training settings the flags in `args` ask for (the first occurrence of a flag wins). */
function settingsFrom(args: string[]) {
  const arg = (name: string, fallback?: string) => {
    const at = args.indexOf(`--${name}`);
    return at === -1 ? fallback : args[at + 1];
  };
  const objective = arg('objective', 'softmax') as TrainingObjective;
  const defaults = defaultModelFor(objective);
  const model: ModelSettings = {
    ...defaults,
    alsAlpha: Number(arg('als-alpha', String(defaults.alsAlpha ?? 40))),
    alsRegularization: Number(arg('als-reg', String(defaults.alsRegularization ?? 0.1))),
    alsCgSteps: Number(arg('als-cg-steps', String(defaults.alsCgSteps ?? 3))),
    alsSweeps: Number(arg('als-sweeps', String(defaults.alsSweeps ?? 10))),
    topLearningRate: Number(arg('top-lr', String(defaults.topLearningRate ?? 0.03))),
    dim: Number(arg('dim', String(defaults.dim))),
    temperature: Number(arg('temperature', String(defaults.temperature))),
    l2: Number(arg('l2', '0')),
    adamBiasCorrection: (arg('adam-bias-correction') ?? defaults.adamBiasCorrection) as ModelSettings['adamBiasCorrection'],
    layers: (arg('layers', defaults.layers.join(','))!).split(',').filter((w) => w !== '' && w !== 'none').map(Number),
    userHistory: args.includes('--no-user-history') ? false : args.includes('--user-history') || defaults.userHistory === true,
    seed: Number(arg('seed', String(defaults.seed))),
    logQ: args.includes('--no-logq') ? false : defaults.logQ,
    historyDropout: Number(arg('history-dropout', String(defaults.historyDropout ?? 0))),
    uniformNegatives: Number(arg('uniform-negatives', String(defaults.uniformNegatives ?? 0))),
    userIdInput: args.includes('--no-user-id') ? false : args.includes('--user-id') || defaults.userIdInput !== false,
    userIdDropout: Number(arg('user-id-dropout', String(defaults.userIdDropout ?? 0))),
    itemAudience: args.includes('--item-audience'),
    refineItemRows: args.includes('--no-refine-item-rows') ? false : defaults.refineItemRows,
    rowInit: (arg('row-init') ?? defaults.rowInit) as ModelSettings['rowInit'],
    itemIdDropout: Number(arg('item-id-dropout', String(defaults.itemIdDropout ?? 0.8))),
    itemBias: args.includes('--item-bias') ? true : defaults.itemBias,
    scoring: (arg('scoring') ?? defaults.scoring) as ModelSettings['scoring'],
    itemBiasLearningRate: Number(arg('item-bias-lr', '30')),
    // Left out: chosen on the carve (`popularityTermChooser`); 0 = none.
    ...(arg('popularity-weight') !== undefined ? { popularityWeight: Number(arg('popularity-weight')) } : {}),
  };
  const training: TrainingSettings = {
    ...DEFAULT_TRAINING,
    batchSize: Number(arg('batch-size', String(DEFAULT_TRAINING.batchSize))),
    epochs: Number(arg('epochs', '10')),
    learningRate: Number(arg('lr', String(DEFAULT_TRAINING.learningRate))),
    patience: Number(arg('patience', String(DEFAULT_TRAINING.patience))),
    ...(arg('threads') !== undefined ? { threads: Number(arg('threads')) } : {}),
  };
  const strategies = (arg('strategies', 'FEATURE_EXTRACTION,PARTIAL,FULL')!).split(',') as Array<TransferStrategyName | 'AUTO' | 'JOINT_TUNED'>;
  // The fixed strategies' towers over the source's rows, when not the source's own (e.g. hybrid over implicit ALS: a fresh top).
  const transferObjective = arg('transfer-objective') as TrainingObjective | undefined;
  return { objective, model, training, strategies, transferObjective };
}
const { objective: OBJECTIVE, model: MODEL, training: TRAINING, transferObjective: TRANSFER_OBJECTIVE } = settingsFrom(argv);
/**
 * `--recipes "name: --flag value ...; name: ..."`: the target-only models to train, one per
 * recipe, in this one run on the same data and negatives (each recipe's flags on top of the
 * command's). Without it, the one model of the command's flags.
 */
const RECIPES = (arg('recipes') ?? '')
  .split(';')
  .map((r) => r.trim())
  .filter(Boolean)
  .map((r) => {
    const colon = r.indexOf(':');
    if (colon < 1) throw new Error(`--recipes: "${r}" has no name; write "name: --flag value ..."`);
    const flags = r.slice(colon + 1).trim().split(/\s+/).filter(Boolean);
    return { name: r.slice(0, colon).trim(), ...settingsFrom([...flags, ...argv]) };
  });
/** Experiment: after each transfer, also solve every target item's vector in closed form against the transferred user vectors (iALS item step at this alpha). */
const REFIT_ALPHAS = arg('refit-items') === undefined ? [] : arg('refit-items')!.split(',').map(Number);
const REFIT_REG = Number(arg('refit-reg', '0.1'));
/** Target only: also score each model with the popularity term β·log(1 + n_i), β profiled on the validation carve. */
const PROFILE_POPULARITY = argv.includes('--profile-popularity');
/** Target only: also train a fresh model on train + carve for the epochs the carve chose, and score it on test. */
const REFIT = argv.includes('--refit');
/** Target only: `graft train --auto` (the settings searched on the validation carve) instead of the flags' fixed settings. */
const AUTO_TARGET = argv.includes('--auto');

interface Row {
  setting: string;
  variant: string;
  hr10: number;
  ndcg10: number;
  seconds: number;
  note?: string;
}
const rows: Row[] = [];
const report = (r: Row) => {
  rows.push(r);
  process.stderr.write(`${r.variant.padEnd(8)} ${r.setting.padEnd(44)} HR@10 ${r.hr10.toFixed(4)}  NDCG@10 ${r.ndcg10.toFixed(4)}  ${r.seconds.toFixed(1)} s ${r.note ?? ''}\n`);
};

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'graft-amazon-'));
  const gdb = await connect({ dataDir: dir, databaseUrl: '' });
  try {
    await migrateToLatest(gdb.db);
    let split: SplitSpec;
    if (DATASET === 'amazon') {
      for (const [domain, folder] of [[SOURCE, `${SOURCE}_${TARGET}`], [TARGET, `${TARGET}_${SOURCE}`]] as const) {
        const s = await importEventsFile(gdb, join(DATA, folder, 'train.txt'), { domain, header: false, columns: ['user', 'item', 'weight'] });
        process.stderr.write(`imported ${domain}: ${s.rows} events\n`);
      }
      split = { kind: 'file', path: join(DATA, `${TARGET}_${SOURCE}`, 'test.txt'), format: 'tsv' };
    } else {
      const summary = await seedSynthetic(gdb, { users: Number(arg('users', '2000')), seed: 42 });
      process.stderr.write(`seeded: ${summary.domains.map((d) => `${d.name} ${d.events} events`).join(', ')}\n`);
      split = { kind: 'leave-one-out', mode: 'last' };
    }
    const targetData = await prepareDataset(await readDataset(gdb, TARGET), { split, tokenBuckets: MODEL.tokenBuckets });
    for (const variant of VARIANTS) {
      const target = variant === 'sparse' ? capTrainPerUser(targetData, 2, 2040) : targetData;
      popularityRow(target, variant);
      if (ONLY !== 'transfer') await targetOnly(target, variant);
    }
    if (ONLY !== 'target') await transfers(gdb, split);
    const table = [
      `| ${TARGET} training data | model | HR@10 | NDCG@10 | wall s |`,
      '|---|---|---:|---:|---:|',
      ...rows.map((r) => `| ${r.variant} | ${r.setting}${r.note ? ` (${r.note})` : ''} | ${r.hr10.toFixed(4)} | ${r.ndcg10.toFixed(4)} | ${r.seconds.toFixed(0)} |`),
    ].join('\n');
    process.stdout.write(`${table}\n`);
    const comparisons = compareRecipes(evaluatedTransfers);
    if (comparisons.length > 0) process.stdout.write(`\n${comparisons.join('\n')}\n`);
    const out = arg('json');
    if (out) writeFileSync(out, JSON.stringify({ rows, searches: autoSearches, comparisons }, null, 2));
  } finally {
    await gdb.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function popularityRow(target: PreparedDomain, variant: string) {
  const started = performance.now();
  const data = evaluationData(concatExamples(target.train, target.validation), target.test, target.userDbIds.length, target.itemDbIds.length);
  const { popularity } = evaluateWithPopularity(popularityScorer(data.popularity), data, EVALUATION);
  report({ setting: 'popularity', variant, hr10: popularity.metrics['hr@10']!, ndcg10: popularity.metrics['ndcg@10']!, seconds: (performance.now() - started) / 1000 });
}

async function targetOnly(target: PreparedDomain, variant: string) {
  const recipes = RECIPES.length > 0 ? RECIPES : [{ name: '', objective: OBJECTIVE, model: MODEL, training: TRAINING }];
  if (AUTO_TARGET) {
    for (const recipe of recipes) await autoTargetRow(target, variant, recipe);
    return;
  }
  for (const recipe of recipes) {
    // Scoring or row start left out: each fitted and the carve's choice reported as the delivered row, as `pretrain` does
    // (`scoringProfiled`: each scoring at the first start; `rowInitProfiled`: the kept scoring again from the other start).
    const profilesScoring = scoringProfiled(recipe.model, target);
    const profilesStart = rowInitProfiled(recipe.model, target);
    if (!profilesScoring && !profilesStart) {
      await targetOnlyRecipe(target, variant, recipe);
      continue;
    }
    const started = performance.now();
    const objective = modelObjective(recipe.model.objective ?? 'softmax');
    const scorings = profilesScoring ? objective.scorings : [recipe.model.scoring ?? objective.scoring];
    const firstStart = recipe.model.rowInit ?? DEFAULT_ROW_INIT;
    const prefix = recipe.name ? `${recipe.name}, ` : '';
    type Fit = { scoring: ModelScoring; rowInit: RowInit; test: Record<string, number>; carve: ValidationScore };
    const fits: Fit[] = [];
    for (const scoring of scorings) {
      const fit = await targetOnlyRecipe(target, variant, { ...recipe, name: `${prefix}scoring ${scoring}, ${firstStart} start`, model: { ...recipe.model, scoring, rowInit: firstStart } });
      fits.push({ scoring, rowInit: firstStart, ...fit });
    }
    const decided = scoringOnCarve(fits, EVALUATION.seed);
    let chosen = fits[decided.chosen]!;
    const g = decided.gain;
    const notes = [`${chosen.scoring}`, `carve NDCG@10 as delivered ${fits.map((f) => `${f.scoring} ${f.carve.value.toFixed(4)}`).join(', ')}${g ? `; ${g.scoring} over ${fits[0]!.scoring} ${signed(g.mean)} [${g.ci95[0].toFixed(4)}, ${g.ci95[1].toFixed(4)}]` : ''}`];
    if (profilesStart) {
      const other: RowInit = 'random';
      const fit = await targetOnlyRecipe(target, variant, { ...recipe, name: `${prefix}scoring ${chosen.scoring}, ${other} start`, model: { ...recipe.model, scoring: chosen.scoring, rowInit: other } });
      const starts = [chosen, { scoring: chosen.scoring, rowInit: other, ...fit }];
      const byStart = defaultUnlessBeaten(starts.map((f) => ({ key: f.rowInit, carve: f.carve })), EVALUATION.seed, { interval: false });
      chosen = starts[byStart.chosen]!;
      const sg = byStart.gain!;
      notes.push(`start ${chosen.rowInit}: carve ${starts.map((f) => `${f.rowInit} ${f.carve.value.toFixed(4)}`).join(', ')}; ${sg.key} over ${firstStart} ${signed(sg.mean)} [${sg.ci95[0].toFixed(4)}, ${sg.ci95[1].toFixed(4)}]`);
    }
    report({
      setting: `${TARGET} only (two-tower, ${recipe.objective})${recipe.name ? ` [${recipe.name}]` : ''}, ${[profilesScoring ? 'scoring' : '', profilesStart ? 'row start' : ''].filter(Boolean).join(' and ')} chosen on the carve`,
      variant,
      hr10: chosen.test['hr@10']!,
      ndcg10: chosen.test['ndcg@10']!,
      seconds: (performance.now() - started) / 1000,
      note: notes.join('; '),
    });
  }
}

function signed(x: number): string {
  return `${x >= 0 ? '+' : ''}${x.toFixed(4)}`;
}

/**
 * `--auto` (target only): `graft train --auto` on the target, the product's search on the
 * validation carve (test never read), then the winner trained on all training data and scored
 * on test. With --objective (or a recipe's), that objective's settings only; without, the
 * objectives too.
 */
async function autoTargetRow(target: PreparedDomain, variant: string, recipe: { name: string; objective: string; model: ModelSettings; training: TrainingSettings }) {
  const started = performance.now();
  await initBackend({});
  const fixedObjective = RECIPES.length > 0 || argv.includes('--objective');
  const { trained, search } = await autoPretrain(target, { model: recipe.model, training: recipe.training, evaluation: EVALUATION, budget: BUDGET, fixedObjective }, {
    onTrial: (t) => process.stderr.write(`  trial ${t.config} rung ${t.rung} (${t.epochs} epochs): ${t.label}  validation ${t.validation.toFixed(4)}  ${t.seconds.toFixed(1)} s\n`),
  });
  autoSearches.push({ variant: `${variant} target AUTO${recipe.name ? ` [${recipe.name}]` : ''}`, search });
  const test = trained.metrics.test;
  const objective = fixedObjective ? recipe.objective : 'any objective';
  const audience = trained.config.itemAudienceChoice as { chosen: boolean; carveWithout: number; carveWith: number } | undefined;
  const audienceNote = audience ? `; item audience ${audience.chosen ? 'on' : 'off'} (carve ${audience.carveWithout.toFixed(4)} without, ${audience.carveWith.toFixed(4)} with)` : '';
  report({ setting: `${TARGET} only, AUTO (${objective}, budget ${formatSearchBudget(BUDGET)})${recipe.name ? ` [${recipe.name}]` : ''}`, variant, hr10: test['hr@10']!, ndcg10: test['ndcg@10']!, seconds: (performance.now() - started) / 1000, note: `chose ${search.transfer.label}, ${search.transfer.epochs} epochs; validation ${search.transfer.validation.toFixed(4)}${audienceNote}` });
}

/**
 * `pretrain` step by step, to also score the model kept by early stopping on the validation
 * carve (each user's last training event) under the test protocol (999 negatives, every
 * carve user), with the training-only histories it was trained with: the figure a recipe is
 * chosen on. Test is then scored exactly as `pretrain` does (carve events join the histories).
 */
async function targetOnlyRecipe(target: PreparedDomain, variant: string, recipe: { name: string; objective: string; model: ModelSettings; training: TrainingSettings }): Promise<{ test: Record<string, number>; carve: ValidationScore }> {
  const started = performance.now();
  await initBackend({});
  const users = target.userDbIds.length;
  const items = target.itemDbIds.length;
  const config = modelConfig(recipe.model, users, items);
  const tokens = towerTokensFor(config, target.itemTokens);
  let model = TwoTowerModel.create(config, tokens);
  try {
    const events = trainingEvents(config, target.train, target.validation);
    const carve = events.validation && evaluationData(events.train, events.validation, users, items);
    setUserHistoriesFrom(model, events.train);
    const chooser = popularityTermChooser(recipe.model, target, EVALUATION);
    const t = await fitModel(model, events.train, carve, recipe.training, recipe.model.seed, chooser.hooks, undefined, EVALUATION);
    // A model refitted on the carve (hybrid) has seen it: only the early-stopping metric (on the copy that had not) is held out.
    const validation = carve && !objectiveNamed(config.objective).refitsOnValidation ? evaluate(modelScorer(model, items), carve, EVALUATION).metrics : undefined;
    // popularityWeight left out: the popularity term chosen on the carve, as `pretrain` chooses it.
    // The carve score as `pretrain` ranks a fit (NDCG@10 under the run's protocol, with a given term as fitted), taken before the carve joins the histories; 0 without a held-out carve.
    const carveScorer = target.validation && events.validation ? validationScorer(target.train, target.validation, users, items, EVALUATION) : undefined;
    let carveScore = carveScorer && !choosesPopularityTerm(recipe.model, target.validation) ? carveScorer.scoreAt(model, [undefined])[0]! : { value: 0, perUser: new Float32Array(0) };
    const term = await chooser.afterFit(model, tokens, freshCarveFreeFit(config, tokens, target.train, recipe.training, recipe.model.seed));
    const chosenTerm = term.choice;
    // A term chosen here: the chooser's own score at it (the rebuilt model counts the carve's events too).
    if (carveScorer && term.carve) carveScore = term.carve;
    if (term.model !== model) {
      model.dispose();
      model = term.model;
    }
    // --profile-popularity: the popularity term β·log(1 + n_i) added to the model's scores, β chosen on the carve
    // (the profile AUTO runs on ALS-rows trials); a model that trains on the carve is refitted without it to choose.
    let beta: number | undefined;
    // (Not for a model refitted on the carve after choosing on it, the hybrid: its carve is no longer held out.)
    if (PROFILE_POPULARITY && !chosenTerm && target.validation && !objectiveNamed(config.objective).refitsOnValidation) {
      let carveModel = model;
      if (!events.validation) {
        carveModel = TwoTowerModel.create(config, towerTokensFor(config, target.itemTokens));
        setUserHistoriesFrom(carveModel, target.train);
        await fitModel(carveModel, target.train, undefined, recipe.training, recipe.model.seed);
      }
      const { scoreAt } = validationScorer(target.train, target.validation, users, items, EVALUATION);
      const found = popularityProfiler(target.train, items)(carveModel, scoreAt);
      beta = found.beta;
      process.stderr.write(`  popularity profile: β ${beta}, validation NDCG@10 ${found.score.value.toFixed(4)} (β 0: ${scoreAt(carveModel, [undefined])[0]!.value.toFixed(4)})\n`);
      if (carveModel !== model) carveModel.dispose();
    }
    setUserHistoriesFrom(model, target.train, target.validation);
    const seen = concatExamples(target.train, target.validation);
    const testData = evaluationData(seen, target.test, users, items);
    const test = evaluate(modelScorer(model, items), testData, EVALUATION).metrics;
    if (beta !== undefined) {
      const bias = Float32Array.from(itemEventCounts({ items: seen.items }, items), (n) => beta! * Math.log1p(n));
      const withTerm = evaluate(biasedEmbeddingScorer(model.embedUsers(), model.embedItems(), model.outputDim, bias, items), testData, EVALUATION).metrics;
      report({ setting: `${TARGET} only (two-tower, ${recipe.objective})${recipe.name ? ` [${recipe.name}]` : ''} + popularity term β ${beta} chosen on the carve`, variant, hr10: withTerm['hr@10']!, ndcg10: withTerm['ndcg@10']!, seconds: (performance.now() - started) / 1000 });
    }
    const termNote = chosenTerm ? `; popularity term β ${chosenTerm.beta} chosen on the carve (NDCG@10 ${chosenTerm.carveWithout.toFixed(4)} -> ${chosenTerm.carveWith.toFixed(4)})` : '';
    const note = validation
      ? `${t.epochs} epochs, kept ${t.bestEpoch}${t.refinedEpochs !== undefined ? ` + ${t.refinedEpochs} of item rows refined` : ''}; validation HR@10 ${validation['hr@10']!.toFixed(4)} NDCG@10 ${validation['ndcg@10']!.toFixed(4)} (999 negatives; early-stopping metric ${t.bestValidation!.toFixed(4)})${termNote}`
      : carve
        ? `${t.bestEpoch} epochs of the top chosen on the carve (early-stopping metric ${t.bestValidation!.toFixed(4)})${t.topShare ? `, ${formatTopShare(t.topShare, t.bestEpoch)}` : ''}, then refitted with it${termNote}`
        : `${t.epochs} epochs; no validation (trains on the carve)${termNote}`;
    report({ setting: `${TARGET} only (two-tower, ${recipe.objective})${recipe.name ? ` [${recipe.name}]` : ''}`, variant, hr10: test['hr@10']!, ndcg10: test['ndcg@10']!, seconds: (performance.now() - started) / 1000, note });
    // --refit: a fresh model of the same seed trained on train + carve for the epochs kept on the carve (what ALS sees).
    if (REFIT && validation && t.bestEpoch !== undefined && t.bestEpoch > 0) {
      const refit = TwoTowerModel.create(config, towerTokensFor(config, target.itemTokens));
      try {
        setUserHistoriesFrom(refit, target.train, target.validation);
        await fitModel(refit, seen, undefined, { ...recipe.training, epochs: t.bestEpoch, patience: 0 }, recipe.model.seed);
        const refitTest = evaluate(modelScorer(refit, items), testData, EVALUATION).metrics;
        report({ setting: `${TARGET} only (two-tower, ${recipe.objective})${recipe.name ? ` [${recipe.name}]` : ''} refitted on train + carve, ${t.bestEpoch} epochs`, variant, hr10: refitTest['hr@10']!, ndcg10: refitTest['ndcg@10']!, seconds: (performance.now() - started) / 1000 });
      } finally {
        refit.dispose();
      }
    }
    // The carve score as `pretrain` ranks a fit (NDCG@10 under the run's protocol, with the popularity term chosen); 0 without a carve.
    return { test, carve: carveScore };
  } finally {
    model.dispose();
  }
}

async function transfers(gdb: GraftDatabase, split: SplitSpec) {
  // With --recipes, one source model per recipe (its objective, settings and --strategies), all on the same data and negatives.
  const recipes = RECIPES.length > 0 ? RECIPES : [{ name: '', objective: OBJECTIVE, model: MODEL, training: TRAINING, strategies: STRATEGIES, transferObjective: TRANSFER_OBJECTIVE }];
  for (const recipe of recipes) await transfersOf(gdb, split, recipe);
}

async function transfersOf(gdb: GraftDatabase, split: SplitSpec, recipe: { name: string; objective: string; model: ModelSettings; training: TrainingSettings; strategies: Array<TransferStrategyName | 'AUTO' | 'JOINT_TUNED'>; transferObjective?: TrainingObjective }) {
  const { model: MODEL, training: TRAINING, strategies: STRATEGIES } = recipe;
  const tag = recipe.name ? ` [${recipe.name}]` : '';
  let started = performance.now();
  const sourceData = await prepareDataset(await readDataset(gdb, SOURCE), { split: { kind: 'none' }, tokenBuckets: MODEL.tokenBuckets });
  const source = await pretrain(sourceData, { model: MODEL, training: TRAINING, evaluation: EVALUATION });
  const record = await registerTrainedModel(gdb, { domain: SOURCE, kind: 'PRETRAIN' }, source);
  const sourceScoring = source.config.scoringChoice as ScoringChoice | undefined;
  const scoringNote = sourceScoring ? `; scoring ${sourceScoring.chosen} chosen on the carve (${sourceScoring.carve.map((c) => `${c.scoring} ${c.score.toFixed(4)}`).join(', ')}; ${sourceScoring.gain.scoring} over the default [${sourceScoring.gain.ci95.map((v) => v.toFixed(4)).join(', ')}])` : '';
  const sourceStart = source.config.rowInitChoice as RowInitChoice | undefined;
  const startNote = sourceStart ? `; row start ${sourceStart.chosen} chosen on the carve (${sourceStart.carve.map((c) => `${c.rowInit} ${c.score.toFixed(4)}`).join(', ')}; ${sourceStart.gain.rowInit} over the default ${signed(sourceStart.gain.mean)} [${sourceStart.gain.ci95.map((v) => v.toFixed(4)).join(', ')}])` : '';
  process.stderr.write(`pretrained on ${SOURCE}${tag} (${recipe.objective}) in ${((performance.now() - started) / 1000).toFixed(1)} s (${source.metrics.training.epochs} epochs${scoringNote}${startNote})\n`);
  for (const variant of VARIANTS) {
    const prepared = await prepareTransfer(gdb, record.id, TARGET, { split, coldStartShare: DATASET === 'amazon' ? 0 : 0.1, maxTargetTrainPerUser: variant === 'sparse' ? 2 : undefined, seed: 2040 });
    let baselineReported = false;
    let jointReported = false;
    for (const strategy of STRATEGIES) {
      if (strategy === 'AUTO') {
        await autoRow(prepared, variant, MODEL, TRAINING);
        continue;
      }
      if (strategy === 'JOINT_TUNED') {
        await tunedJointRow(prepared, variant, MODEL, TRAINING);
        continue;
      }
      // JOINT trains on every source event at weight 1: the replay settings and item inits do not apply to it.
      const grafting = strategy !== 'JOINT';
      const runs = grafting ? REPLAY.flatMap((w) => ITEM_INITS.map((init) => [w, init] as const)) : [[undefined, 'random'] as const];
      for (const [replayWeight, itemInit] of runs) {
        started = performance.now();
        let evaluated: EvaluationReport | undefined;
        const { report: r, trained } = await transfer(prepared, {
          strategy,
          freezeLayers: strategy === 'PARTIAL' ? 1 : undefined,
          replayWeight,
          replayFraction: grafting ? REPLAY_FRACTION : undefined,
          jointReference: grafting && JOINT_REFERENCE,
          itemInit,
          itemBias: argv.includes('--transfer-item-bias') ? { learningRate: MODEL.itemBiasLearningRate } : undefined,
          ...(recipe.transferObjective ? { model: { objective: recipe.transferObjective } } : {}),
          training: TRAINING,
          evaluation: EVALUATION,
          seed: MODEL.seed,
        }, { onEvaluated: (e) => (evaluated = e) });
        const seconds = (performance.now() - started) / 1000;
        if (!baselineReported) {
          report({ setting: `target-only baseline (${recipe.transferObjective ?? recipe.objective}, same budget, in the transfer job)${tag}`, variant, hr10: r.baseline['hr@10']!, ndcg10: r.baseline['ndcg@10']!, seconds: 0 });
          baselineReported = true;
        }
        const g = r.gain['hr@10']!;
        const p = r.gainOverPopularity['hr@10']!;
        if (r.joint && !jointReported) {
          report({ setting: `JOINT reference on ${TARGET} + ${SOURCE} (from scratch, same budget, in the transfer job)`, variant, hr10: r.joint.metrics['hr@10']!, ndcg10: r.joint.metrics['ndcg@10']!, seconds: 0 });
          jointReported = true;
        }
        const j = r.joint?.gain['hr@10'];
        // Users without target training events (the synthetic data's cold-start share; the Amazon pairs have none).
        const cold = r.strata.find((s) => s.label === '0');
        const coldNote = cold && cold.users > 0 ? `; users without target events (${cold.users}): ${cold.transferred['hr@10']!.toFixed(4)} / ${cold.transferred['ndcg@10']!.toFixed(4)} (popularity ${cold.popularity['hr@10']!.toFixed(4)} / ${cold.popularity['ndcg@10']!.toFixed(4)})` : '';
        for (const REFIT_ALPHA of REFIT_ALPHAS) {
          const t0 = performance.now();
          const target = prepared.target;
          const seen = concatExamples(target.train, target.validation);
          const data = evaluationData(seen, target.test, target.userDbIds.length, trained.candidateItems);
          const items = refitItems(trained.userVectors, trained.outputDim, seen, trained.candidateItems, trained.itemVectors, REFIT_ALPHA, REFIT_REG);
          const nUsers = target.userDbIds.length;
          const scorer = embeddingScorer(trained.userVectors.subarray(0, nUsers * trained.outputDim), items, trained.outputDim);
          const refit = evaluate(scorer, data, EVALUATION);
          report({ setting: `${SOURCE} -> ${TARGET} ${strategy}, replay ${replayWeight}, items refit in closed form (alpha ${REFIT_ALPHA}, reg ${REFIT_REG})`, variant, hr10: refit.metrics['hr@10']!, ndcg10: refit.metrics['ndcg@10']!, seconds: (performance.now() - t0) / 1000 });
        }
        const setting = grafting
          ? `${SOURCE} -> ${TARGET} ${strategy}${strategy === 'PARTIAL' ? ' (freeze 1)' : ''}, replay ${replayWeight}${itemInit === 'random' ? '' : `, item init ${itemInit}`} (${recipe.transferObjective ? `${recipe.transferObjective} over ${recipe.objective} rows` : recipe.objective})${tag}`
          : `JOINT on ${TARGET} + ${SOURCE} (from scratch, every source event at weight 1)`;
        if (evaluated) evaluatedTransfers.push({ recipe: recipe.name, variant, setting, evaluated });
        report({
          setting,
          variant,
          hr10: r.metrics['hr@10']!,
          ndcg10: r.metrics['ndcg@10']!,
          seconds,
          note: `gain ${g.value >= 0 ? '+' : ''}${g.value.toFixed(4)} [${g.ci95[0].toFixed(4)}, ${g.ci95[1].toFixed(4)}]${g.relative === null ? '' : `, ${g.relative >= 0 ? '+' : ''}${(100 * g.relative).toFixed(1)}%`}; over popularity ${p.value >= 0 ? '+' : ''}${p.value.toFixed(4)} [${p.ci95[0].toFixed(4)}, ${p.ci95[1].toFixed(4)}]${j ? `; over JOINT ${j.value >= 0 ? '+' : ''}${j.value.toFixed(4)} [${j.ci95[0].toFixed(4)}, ${j.ci95[1].toFixed(4)}]` : ''}${r.negativeTransfer ? ', negative transfer' : ''}${coldNote}; best epoch ${trained.metrics.training.bestEpoch ?? '-'} of ${trained.metrics.training.epochs}${trained.metrics.training.topShare !== undefined ? `, ${formatTopShare(trained.metrics.training.topShare, trained.metrics.training.bestEpoch)}` : ''}${trained.metrics.training.bestValidation !== undefined ? `; carve ${trained.metrics.training.bestValidation.toFixed(5)}` : ''}; frozen: ${r.frozen}`,
        });
      }
    }
  }
}

/** Each fixed-strategy transfer's test evaluation (user by user in `perUser`), for `compareRecipes`. */
const evaluatedTransfers: Array<{ recipe: string; variant: string; setting: string; evaluated: EvaluationReport }> = [];

/**
 * With two or more recipes: per variant and metric, every transfer of each recipe against the
 * best transfer (on that metric) of every other recipe, on the same test users and negatives:
 * the mean per-user difference and its paired bootstrap 95% interval (`pairedBootstrap`, seed
 * 2040). A markdown table, one line per comparison.
 */
function compareRecipes(evaluated: typeof evaluatedTransfers): string[] {
  const recipes = [...new Set(evaluated.map((e) => e.recipe))];
  if (recipes.length < 2) return [];
  const lines = ['| variant | metric | transfer | against the best of recipe | difference [95% interval] |', '|---|---|---|---|---|'];
  for (const variant of VARIANTS) {
    for (const metric of ['hr@10', 'ndcg@10']) {
      for (const recipe of recipes) {
        for (const other of recipes) {
          if (other === recipe) continue;
          const theirs = evaluated.filter((e) => e.variant === variant && e.recipe === other);
          if (theirs.length === 0) continue;
          const best = theirs.reduce((a, b) => (b.evaluated.metrics[metric]! > a.evaluated.metrics[metric]! ? b : a));
          for (const mine of evaluated.filter((e) => e.variant === variant && e.recipe === recipe)) {
            const a = mine.evaluated.perUser;
            const b = best.evaluated.perUser;
            if (a.users.length !== b.users.length || !a.users.every((u, i) => u === b.users[i])) throw new Error(`${mine.setting} and ${best.setting} were evaluated on different users`);
            const d = pairedBootstrap(a.values[metric]!, b.values[metric]!, { seed: EVALUATION.seed });
            lines.push(`| ${variant} | ${metric} | ${mine.setting} | ${other}: ${best.setting} | ${d.mean >= 0 ? '+' : ''}${d.mean.toFixed(5)} [${d.ci[0].toFixed(4)}, ${d.ci[1].toFixed(4)}] |`);
          }
        }
      }
    }
  }
  return lines;
}

/** AUTO with its budget: the search (transfer and baseline), the winners retrained, the tuned baseline as its own row. */
async function autoRow(prepared: Awaited<ReturnType<typeof prepareTransfer>>, variant: string, MODEL: ModelSettings, TRAINING: TrainingSettings) {
  const started = performance.now();
  const cpu = process.cpuUsage();
  const { report: r } = await transfer(prepared, {
    strategy: 'AUTO',
    budget: BUDGET,
    retrainSource: !process.argv.includes('--no-retrain-source'),
    replayWeight: DEFAULT_TRANSFER.replayWeight,
    replayFraction: REPLAY_FRACTION,
    training: TRAINING,
    evaluation: EVALUATION,
    seed: MODEL.seed,
  });
  const seconds = (performance.now() - started) / 1000;
  const s = r.search!;
  const g = r.gain['hr@10']!;
  const p = r.gainOverPopularity['hr@10']!;
  process.stderr.write(`${s.trials.map((t) => `  ${t.search} #${t.config} rung ${t.rung} ${t.epochs} ep: ${t.label} -> ${t.validation.toFixed(4)} (${t.seconds.toFixed(1)} s)`).join('\n')}\n`);
  if (s.blend) process.stderr.write(`  blend ${s.blend.delivered ? 'DELIVERED' : 'not delivered'}: weight ${s.blend.weight} with ${s.blend.partner} (${s.blend.partnerSearch}, ${s.blend.partnerEpochs} ep), beta ${s.blend.popularityWeight}: ${s.blend.validation.toFixed(4)}, gain ${s.blend.validationGain.value.toFixed(4)} [${s.blend.validationGain.ci95[0].toFixed(4)}, ${s.blend.validationGain.ci95[1].toFixed(4)}] (${s.blend.tried} tried)\n`);
  report({ setting: `target-only baseline tuned by the same search (${s.baseline!.label}, ${s.baseline!.epochs} epochs)`, variant, hr10: r.baseline['hr@10']!, ndcg10: r.baseline['ndcg@10']!, seconds: 0 });
  report({
    setting:
      s.decision === 'target-only'
        ? `${SOURCE} -> ${TARGET} AUTO (budget ${s.budget}): no transfer, ${s.baseline!.label}, ${s.baseline!.epochs} epochs (best transfer on validation: ${s.transfer.label}, ${s.transfer.validation.toFixed(4)} vs ${s.baseline!.validation.toFixed(4)})`
        : `${SOURCE} -> ${TARGET} AUTO (budget ${s.budget}): ${s.transfer.label}, ${s.transfer.epochs} epochs${s.blend?.delivered ? `, blended at ${s.blend.weight} with ${s.blend.partner} (${s.blend.partnerEpochs} epochs, β ${s.blend.popularityWeight})` : ''}`,
    variant,
    hr10: r.metrics['hr@10']!,
    ndcg10: r.metrics['ndcg@10']!,
    seconds,
    note: `${s.trials.length} trials, search ${s.seconds.toFixed(0)} s wall; whole AUTO run ${cpuSeconds(cpu).toFixed(0)} CPU s (every thread); gain ${g.value >= 0 ? '+' : ''}${g.value.toFixed(4)} [${g.ci95[0].toFixed(4)}, ${g.ci95[1].toFixed(4)}]; over popularity ${p.value >= 0 ? '+' : ''}${p.value.toFixed(4)} [${p.ci95[0].toFixed(4)}, ${p.ci95[1].toFixed(4)}]${r.negativeTransfer ? ', negative transfer' : ''}`,
  });
  autoSearches.push({ variant, search: s });
}
const autoSearches: Array<{ variant: string; search: unknown }> = [];

/** CPU seconds of this process (all threads, user + system) since `from`: the work a loaded machine's wall time hides. */
function cpuSeconds(from: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(from);
  return (used.user + used.system) / 1e6;
}

/**
 * The issue's tuned joint reference: AUTO's search narrowed to JOINT (its settings and sweeps
 * chosen on the same validation carve with the same budget), then that JOINT retrained on all
 * training data and evaluated, whatever the search's verdict against target-only. It stays the
 * classic implicit ALS on the joined matrix: the popularity term is not searched (β stays the
 * source model's, 0 in these recipes).
 */
async function tunedJointRow(prepared: Awaited<ReturnType<typeof prepareTransfer>>, variant: string, MODEL: ModelSettings, TRAINING: TrainingSettings) {
  const started = performance.now();
  const base = { replayWeight: DEFAULT_TRANSFER.replayWeight, replayFraction: REPLAY_FRACTION, training: TRAINING, evaluation: EVALUATION, seed: MODEL.seed };
  const found = await searchTransfer(transferContext(prepared), { ...base, strategy: 'AUTO', budget: BUDGET }, {}, { candidates: ['JOINT'], searchBaseline: false, fixed: ['popularityWeight'], blend: false });
  const { report: r } = await transfer(prepared, { ...found.settings, jointReference: false });
  const s = found.report;
  process.stderr.write(`${s.trials.map((t) => `  ${t.search} #${t.config} rung ${t.rung} ${t.epochs} ep: ${t.label} -> ${t.validation.toFixed(4)} (${t.seconds.toFixed(1)} s)`).join('\n')}\n`);
  report({
    setting: `JOINT tuned by the same search (budget ${s.budget}): ${s.transfer.label}, ${s.transfer.epochs} epochs`,
    variant,
    hr10: r.metrics['hr@10']!,
    ndcg10: r.metrics['ndcg@10']!,
    seconds: (performance.now() - started) / 1000,
    note: `${s.trials.length} trials, search ${s.seconds.toFixed(0)} s; validation ${s.transfer.validation.toFixed(4)}`,
  });
  autoSearches.push({ variant: `${variant} JOINT_TUNED`, search: s });
}

/**
 * The iALS item step against fixed user vectors: each target item with events solves
 * (U^T U + alpha sum_{u in N(i)} u u^T + reg I) v = (1 + alpha) sum_{u in N(i)} u over every
 * user row; items without events keep their tower output.
 */
function refitItems(userVectors: Float32Array, d: number, seen: { users: Int32Array; items: Int32Array }, nItems: number, towerItems: Float32Array, alpha: number, reg: number): Float32Array {
  const pairs: [number, number][] = [];
  for (let k = 0; k < seen.items.length; k++) if (seen.items[k]! < nItems) pairs.push([seen.items[k]!, seen.users[k]!]);
  const byItem = csr(pairs, nItems);
  const solved = new Float64Array(nItems * d);
  solveRows(byItem, Float64Array.from(userVectors), solved, d, alpha, reg);
  const out = towerItems.slice();
  for (let i = 0; i < nItems; i++) if (byItem.offsets[i + 1]! > byItem.offsets[i]!) for (let a = 0; a < d; a++) out[i * d + a] = solved[i * d + a]!;
  return out;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
