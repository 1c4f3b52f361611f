import { TRAINING_OBJECTIVES } from '../../model/training-objective.js';
import { ROW_INITS } from '../../model/two-tower.model.js';
import type { Setting, SettingCommand, SettingStage } from './setting.js';

/*
 * Every model, training and transfer setting of a pretraining or transfer run, declared once.
 * The CLI flags (`settingOptions`), the job-input checks (`resolveSettings`), the GraphQL input
 * fields (`src/graphql/types/setting-fields.ts`) and the README's settings table
 * (`settingsTable`) derive from these entries; a test checks that all of them agree.
 * Which data is held out (`--split`, `--test-file`) is not a setting but the run's data.
 */

const BOTH = ['train', 'transfer'] as const;
/** The objectives whose ID rows implicit ALS solves. */
const ALS_ROWS = ['implicit-als', 'hybrid'] as const;
const SOFTMAX = ['softmax'] as const;
const EVERY = ['train', 'transfer', 'eval'] as const;
/** The strategies that graft the source model's weights (all but JOINT, which trains from scratch). */
const GRAFTING = ['FEATURE_EXTRACTION', 'PARTIAL', 'FULL'] as const;

/** The model: what `graft train` builds (a transfer takes its source model's). */
export const MODEL_SETTINGS = [
  { name: 'objective', kind: 'enum', values: TRAINING_OBJECTIVES, stage: 'model', commands: ['train'], default: 'softmax', example: 'implicit-als', doc: 'what the towers are trained for: softmax (two towers, gradient steps), implicit-als (ID rows solved per row by ALS; epochs count sweeps) or hybrid (ID rows solved by ALS, then an MLP residual above them trained by softmax for epochs)' },
  { name: 'dim', kind: 'int', min: 4, max: 4096, stage: 'model', commands: ['train'], default: 64, example: '64', doc: 'embedding width of both towers' },
  { name: 'layers', kind: 'int-list', min: 1, max: 8192, maxItems: 8, stage: 'model', commands: ['train'], default: [128, 64], example: '128,64', doc: 'MLP widths per tower, bottom to top (empty: no MLP, the CLI\'s "none"; implicit-als: empty; hybrid: ending at dim)' },
  { name: 'temperature', kind: 'float', min: 0, minExclusive: true, max: 10, stage: 'model', commands: ['train'], default: 0.2, example: '0.2', doc: 'softmax temperature' },
  { name: 'scoring', kind: 'enum', values: ['cosine', 'inner-product'], stage: 'model', commands: ['train'], objectives: SOFTMAX, leftOut: 'chosen on the carve', example: 'inner-product', doc: "softmax: how a user's and an item's tower outputs score: cosine (both L2-normalised, divided by the temperature) or inner-product (raw outputs, so an item's length can carry its popularity; divided by the temperature). Left out: the towers are fitted both ways (twice the training time) and inner-product is kept only when it beats cosine on the validation carve with 95% confidence (NDCG@10 under the run's protocol, with the popularity term; a paired bootstrap over the carve users); cosine without a carve or when the carve leaves the median user fewer than two training events (sparse data). implicit-als and hybrid always score by inner product" },
  { name: 'userHistory', flag: 'user-history', kind: 'boolean', stage: 'model', commands: ['train'], default: true, example: 'false', doc: "pool the items of the user's history into the user tower (implicit-als: off)" },
  { name: 'userIdInput', flag: 'user-id', kind: 'boolean', stage: 'model', commands: ['train'], objectives: SOFTMAX, default: true, example: 'false', doc: "the user's own ID row enters the user tower (off: the tower is the user's pooled history and tags alone; needs userHistory)" },
  { name: 'userIdDropout', kind: 'float', min: 0, max: 0.95, stage: 'model', commands: ['train'], objectives: SOFTMAX, default: 0.8, example: '0.8', doc: "probability of leaving the user's ID row out of a training example (kept rows scaled by 1 / (1 - p)): the tower learns to place users from their history, and a user without history keeps a trained row" },
  { name: 'historyDropout', kind: 'float', min: 0, max: 0.95, stage: 'model', commands: ['train'], objectives: SOFTMAX, default: 0.5, example: '0.5', doc: "probability of leaving each history item out of the user's pool in a training example (denoising: the tower learns to complete partial histories)" },
  { name: 'itemAudience', kind: 'boolean', stage: 'model', commands: ['train'], objectives: SOFTMAX, default: false, example: 'true', doc: "the item tower also pools the user rows of the item's audience (its users' rows, the example's user left out; members dropped with historyDropout), so an item with few events is placed by who chose it. It helps where items have few events each and hurts elsewhere (and a transfer from such a source), so it is off unless asked for; graft train --auto fits its softmax winner with and without it and keeps the better on the validation carve" },
  { name: 'itemIdDropout', kind: 'float', min: 0, max: 0.95, stage: 'model', commands: ['train'], objectives: SOFTMAX, default: 0.8, example: '0.8', doc: "with the item audience: probability of leaving the item's ID row out of a training example (kept rows scaled by 1 / (1 - p)), so the tower learns to place items from their audience" },
  { name: 'refineItemRows', kind: 'boolean', stage: 'model', commands: ['train'], objectives: SOFTMAX, default: true, example: 'false', doc: "after the early-stopped epochs, the item ID rows alone train on against the fixed user tower (every other weight frozen), early-stopped on the same validation carve, and are kept only when the carve scores them above the joint fit (NDCG@10 under the run's evaluation protocol, as AUTO scores): the rows of items with a few events each are still near their random start when the joint fit must stop. Runs where early stopping does (patience > 0); up to epochs more epochs" },
  { name: 'rowInit', kind: 'enum', values: ROW_INITS, stage: 'model', commands: ['train'], objectives: SOFTMAX, leftOut: 'chosen on the carve', example: 'random', doc: "where the ID rows start: implicit-als (solved first by 10 sweeps of implicit ALS on the run's training events, α 40, λ 0.1, then rescaled to the random draw's size, so the rows of items with a few events each start where their users put them; a few seconds on the shared Amazon pairs) or random (the initialiser's draw). Left out: the towers are fitted from both starts (at the scoring kept; one more fit) and the start that scores higher on the validation carve is kept (NDCG@10 under the run's protocol, with the popularity term; a tie keeps implicit-als); implicit-als without a carve or when the carve leaves the median user fewer than two training events. A transfer keeps the rows it grafts (its new rows, its baseline and a JOINT run start as the source did)" },
  { name: 'alsAlpha', kind: 'float', min: 0, max: 10_000, stage: 'model', commands: ['train'], objectives: ALS_ROWS, default: 40, example: '40', doc: 'implicit-als, hybrid: confidence weight of an observed pair' },
  { name: 'alsRegularization', flag: 'als-reg', kind: 'float', min: 0, minExclusive: true, max: 10_000, stage: 'model', commands: ['train'], objectives: ALS_ROWS, default: 0.1, example: '0.1', doc: 'implicit-als, hybrid: L2 regularisation of every solved row' },
  { name: 'alsCgSteps', kind: 'int', min: 0, max: 64, stage: 'model', commands: ['train'], objectives: ALS_ROWS, default: 3, example: '3', doc: 'implicit-als, hybrid: conjugate-gradient steps per row and sweep (0 = exact Cholesky solves)' },
  { name: 'alsSweeps', kind: 'int', min: 1, max: 1000, stage: 'model', commands: ['train'], objectives: ['hybrid'], default: 10, unit: 'sweeps', example: '10', doc: 'hybrid: ALS sweeps that solve the ID rows before the MLP above them trains for epochs' },
  { name: 'topLearningRate', flag: 'top-lr', kind: 'float', min: 0, minExclusive: true, max: 10, stage: 'model', commands: ['train'], objectives: ['hybrid'], default: 0.03, unit: 'x lr', example: '0.03', doc: 'hybrid: learning-rate multiplier of the layers above the ALS-solved ID rows (a residual on a solved optimum: at the full rate one epoch overshoots it)' },
  { name: 'popularityWeight', kind: 'float', min: 0, max: 100, stage: 'model', commands: ['train'], leftOut: 'chosen on the carve', example: '0.05', doc: 'weight β of a popularity term in the score, u·v + β·log(1 + n_i) (softmax with cosine scoring: u, v the unit tower outputs), n_i = the item\'s training events in the fitted domain (a transfer: the target\'s; recomputed by every fit, not learned, never in the softmax\'s training logits; 0 = none; not with itemBias). Left out: chosen on the validation carve after training (0 to 1, the best carve NDCG@10 of a model that did not see the carve: the softmax towers themselves, the hybrid\'s copy that chose its top, a copy of implicit ALS fitted without the carve; 0 without a carve); AUTO scores each trial at the same profile of weights' },
  { name: 'itemBias', kind: 'boolean', stage: 'model', commands: BOTH, objectives: SOFTMAX, default: false, example: 'true', doc: 'a learned logit bias per item, so popularity need not live in the normalised vectors (transfer: also when the source model has none; its rows start at 0)' },
  { name: 'itemBiasLearningRate', flag: 'item-bias-lr', kind: 'float', min: 0, max: 1000, stage: 'model', commands: BOTH, objectives: SOFTMAX, requires: 'itemBias', default: 30, unit: 'x lr', example: '30', doc: 'learning-rate multiplier of the item biases (with itemBias)' },
] as const satisfies readonly Setting[];

/** The training budget, the same for both job kinds (a transfer's baseline gets the same). */
export const TRAINING_SETTINGS = [
  { name: 'epochs', kind: 'int', min: 1, max: 10_000, stage: 'training', commands: BOTH, default: 10, unit: 'epochs', example: '10', doc: 'training epochs (implicit-als: sweeps); early stopping may end sooner' },
  { name: 'batchSize', kind: 'int', min: 8, max: 65_536, stage: 'training', commands: BOTH, default: 256, unit: 'examples', example: '256', doc: 'examples per step (also the in-batch softmax width)' },
  { name: 'learningRate', flag: 'lr', kind: 'float', min: 0, minExclusive: true, max: 1, stage: 'training', commands: BOTH, default: 0.003, example: '0.003', doc: 'learning rate' },
  { name: 'patience', kind: 'int', min: 0, max: 100, stage: 'training', commands: BOTH, default: 3, unit: 'epochs', example: '3', doc: 'early stopping: epochs without validation gain (0 = off)' },
  { name: 'threads', kind: 'int', min: 1, max: 256, stage: 'training', commands: BOTH, objectives: ['softmax', 'implicit-als', 'hybrid'], example: '2', doc: "threads that train (left out: the machine's cores, os.availableParallelism()). implicit-als, hybrid: they solve the rows, the factors are the same for any count; softmax: data-parallel worker threads (each round's steps all taken from the same weights and applied in thread order at a barrier, rows and dense layers), reproducible for a seed and a thread count; left out, one thread per 1,024 batches an epoch up to the cores (wasm and cpu backends; native TensorFlow trains on its own threads)" },
  { name: 'seed', flag: 'training-seed', kind: 'int', min: 1, max: 2_147_483_647, stage: 'training', commands: BOTH, default: 42, example: '42', doc: 'seed of initialisation and shuffling (transfer: also the sparse cap and the cold-start draw)' },
] as const satisfies readonly Setting[];

/** What a transfer adds. */
export const TRANSFER_SETTINGS = [
  { name: 'freezeLayers', kind: 'int', min: 0, max: 16, stage: 'transfer', commands: ['transfer'], strategies: ['PARTIAL'], default: 1, unit: 'layers', example: '1', doc: 'PARTIAL: the lowest N layers of each tower stay frozen (0 = the embedding tables)' },
  { name: 'replayWeight', kind: 'float', min: 0, max: 1, stage: 'transfer', commands: ['transfer'], strategies: GRAFTING, default: 0.5, example: '0.5', doc: 'weight of replayed source events of the same users (0 = no replay)' },
  { name: 'replayFraction', kind: 'float', min: 0, minExclusive: true, max: 10, stage: 'transfer', commands: ['transfer'], strategies: GRAFTING, default: 1, example: '1', doc: 'replayed source examples per epoch, as a share of target examples' },
  { name: 'tokenDropout', kind: 'float', min: 0, max: 0.95, stage: 'transfer', commands: ['transfer'], default: 0, example: '0.2', doc: 'feature dropout: probability of dropping each item tag while fine-tuning' },
  { name: 'jointReference', kind: 'boolean', stage: 'transfer', commands: ['transfer'], strategies: GRAFTING, default: true, example: 'false', doc: 'also train the JOINT model (from scratch on source + target events) with the same budget and report the gain over it (a reference, not part of the guard; off saves its training time)' },
  { name: 'maxTrainPerUser', kind: 'int', min: 1, max: 1_000_000, stage: 'transfer', commands: ['transfer'], example: '2', doc: 'sparse variant: keep at most N target training interactions per user (seeded draw)' },
] as const satisfies readonly Setting[];

/** How a run's test set is scored (`graft eval` takes these too): the same in train, transfer and eval. */
export const EVALUATION_SETTINGS = [
  { name: 'protocol', kind: 'enum', values: ['full', 'sampled'], stage: 'evaluation', commands: EVERY, default: 'sampled', example: 'sampled', doc: 'ranking against the whole catalogue (full) or against sampled negatives' },
  { name: 'negatives', kind: 'int', min: 1, max: 100_000, stage: 'evaluation', commands: EVERY, default: 999, unit: 'items', example: '999', doc: 'sampled protocol: negatives drawn per test interaction' },
  { name: 'ks', flag: 'k', kind: 'int-list', min: 1, max: 1000, minItems: 1, maxItems: 8, stage: 'evaluation', commands: EVERY, default: [10, 20], example: '10,20', doc: 'cut-offs of HR, NDCG, recall and MRR' },
  { name: 'evalSeed', kind: 'int', min: 0, max: 2_147_483_647, stage: 'evaluation', commands: EVERY, default: 2040, example: '2040', doc: "seed of the sampled negatives (the same in train, transfer and eval, so their figures compare)" },
] as const satisfies readonly Setting[];

/** Every setting, in table order. */
export const SETTINGS: readonly Setting[] = [...MODEL_SETTINGS, ...TRAINING_SETTINGS, ...TRANSFER_SETTINGS, ...EVALUATION_SETTINGS];

type Entry = (typeof MODEL_SETTINGS)[number] | (typeof TRAINING_SETTINGS)[number] | (typeof TRANSFER_SETTINGS)[number] | (typeof EVALUATION_SETTINGS)[number];
/** A setting's name. */
export type SettingName = Entry['name'];

/** The setting of this name. */
export function settingNamed(name: SettingName): Setting {
  return SETTINGS.find((s) => s.name === name)!;
}

/** The settings a command (or job kind) takes, in table order. */
export function settingsOf(command: SettingCommand): Setting[] {
  return SETTINGS.filter((s) => s.commands.includes(command));
}

/** The TypeScript type of a setting's value. */
type ValueOf<S> = S extends { kind: 'int' | 'float' }
  ? number
  : S extends { kind: 'boolean' }
    ? boolean
    : S extends { kind: 'int-list' }
      ? number[]
      : S extends { kind: 'enum'; values: readonly (infer V)[] }
        ? V
        : never;

/**
 * The settings a command takes, as optional typed fields (what a job input and a GraphQL input
 * carry), derived from the declarations: a new setting needs no type edited elsewhere.
 */
/**
 * The values of a stage's declared settings, every one present: what a resolved run holds
 * (`ModelSettings`, `TrainingSettings` and `EvaluationSettings` are built on these).
 */
export type StageValues<St extends SettingStage> = {
  -readonly [S in Entry as St extends S['stage'] ? S['name'] : never]: ValueOf<S>;
};

export type DeclaredSettings<C extends SettingCommand> = {
  [S in Entry as C extends S['commands'][number] ? S['name'] : never]?: ValueOf<S>;
};
