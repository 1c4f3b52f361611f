import { GraftError } from '../errors.js';
import { TRAINING_OBJECTIVES, type TrainingObjective } from './training-objective.js';

/**
 * How a trained model scores a user x item pair: cosine for towers whose outputs are unit
 * vectors, raw inner products where a row's length carries meaning (ALS factors, item bias).
 */
export type ModelScoring = 'cosine' | 'inner-product';

/** The parts of a model config an objective checks. */
export interface ObjectiveCheckedConfig {
  dim: number;
  layers: readonly number[];
  userHistory: boolean;
  /** Absent = true (the user's ID row enters the user tower). */
  userIdInput?: boolean;
  /** Absent = 0. */
  userIdDropout?: number;
  itemBias: boolean;
  alsAlpha: number;
  alsRegularization: number;
  alsCgSteps: number;
  alsSweeps: number;
  /** Absent = 0. */
  popularityWeight?: number;
  /** Absent = false. */
  itemAudience?: boolean;
}

/**
 * What the model engine, serving and job validation need to know of a training objective,
 * without loading TF.js or any training code: how it scores, which layers its towers have,
 * whether it trains by gradient steps, its own settings and the configs it refuses. The fit
 * loops live with the training objectives (`src/training/objectives`), which extend this.
 */
export interface ModelObjective {
  readonly name: TrainingObjective;
  /** The default scoring, `scorings[0]` (set by `defineObjective`). cosine: tower outputs are L2-normalised; inner-product: raw (see `scoringOf` for item bias). */
  readonly scoring: ModelScoring;
  /** The scorings a model of this objective may choose (`TwoTowerConfig.scoring`), the default first. */
  readonly scorings: readonly [ModelScoring, ...ModelScoring[]];
  /** 'towers': ID rows, hashed tokens, history pooling and an MLP; 'id-rows': the ID tables alone. */
  readonly layers: 'towers' | 'id-rows';
  /** Whether the model trains by gradient steps (`TwoTowerModel.trainStep`); otherwise its fit solves rows. */
  readonly gradientSteps: boolean;
  /** Whether implicit ALS solves the ID rows (layer 0) of its towers (`fitImplicitAls`). */
  readonly alsRows: boolean;
  /**
   * Whether a tower's output is its ID row plus the MLP's output (a residual top whose last
   * layer starts at zero, so the towers start as their ID rows); the MLP's last width is then `dim`.
   */
  readonly residual: boolean;
  /** Model defaults that differ from the softmax towers' (DEFAULT_MODEL). */
  readonly modelDefaults: ObjectiveModelDefaults;
  /** Settings only this objective reads (others refuse them). */
  readonly ownSettings: readonly string[];
  /**
   * What AUTO's search varies for this objective (`src/tuning/search-space.ts` holds each
   * setting's range) and the first rung's budget in epochs (sweeps for a row-solving objective).
   * The popularity term's weight (`popularityWeight`, every objective; not with a learned item
   * bias) is not drawn: every trial is scored at each weight of a profile and keeps the best
   * (`POPULARITY_PROFILE`).
   */
  readonly tuned: { readonly settings: readonly TunedSetting[]; readonly firstRungEpochs: number };
  /** Throws BAD_INPUT naming the setting and the fix for a config this objective cannot train. */
  check(config: ObjectiveCheckedConfig): void;
}

/** The model settings an objective sets differently from the softmax towers' defaults. */
export interface ObjectiveModelDefaults {
  readonly layers?: readonly number[];
  readonly userHistory?: boolean;
  readonly userIdInput?: boolean;
  readonly userIdDropout?: number;
  readonly historyDropout?: number;
}

/** A setting AUTO searches (see `SEARCH_RANGES` in src/tuning/search-space.ts). */
export type TunedSetting = 'learningRate' | 'temperature' | 'l2' | 'userIdDropout' | 'historyDropout' | 'alsAlpha' | 'alsRegularization';

/** An objective with its default scoring taken from its `scorings` (the first), so the default is stated once. */
function defineObjective(definition: Omit<ModelObjective, 'scoring'>): ModelObjective {
  return { ...definition, scoring: definition.scorings[0] };
}

const SOFTMAX = defineObjective({
  name: 'softmax',
  scorings: ['cosine', 'inner-product'],
  layers: 'towers',
  gradientSteps: true,
  alsRows: false,
  residual: false,
  modelDefaults: {},
  ownSettings: [],
  tuned: { settings: ['learningRate', 'temperature', 'l2', 'userIdDropout', 'historyDropout'], firstRungEpochs: 1 },
  check(config) {
    // The popularity term and a learned item bias share the item-bias column: one or the other.
    if ((config.popularityWeight ?? 0) !== 0 && config.itemBias) {
      throw new GraftError('BAD_INPUT', `config.popularityWeight = ${config.popularityWeight} with config.itemBias; both would set the items' score bias (the popularity term β·log(1 + n_i), or a learned bias): turn itemBias off, or leave popularityWeight at 0`);
    }
    checkPopularityWeight(config, 'softmax');
  },
});

const IMPLICIT_ALS = defineObjective({
  name: 'implicit-als',
  scorings: ['inner-product'],
  layers: 'id-rows',
  gradientSteps: false,
  alsRows: true,
  residual: false,
  modelDefaults: { layers: [], userHistory: false, userIdInput: true, userIdDropout: 0, historyDropout: 0 },
  ownSettings: ['alsAlpha', 'alsRegularization', 'alsCgSteps'],
  tuned: { settings: ['alsAlpha', 'alsRegularization'], firstRungEpochs: 2 },
  check(config) {
    if (config.layers.length > 0) {
      throw new GraftError('BAD_INPUT', `config.layers = [${config.layers.join(', ')}] with objective implicit-als; ALS solves the ID tables exactly and has no MLP: use layers [] (CLI: --layers none)`);
    }
    const unsupported = (['userHistory', 'itemBias'] as const).filter((k) => config[k]);
    if (unsupported.length > 0) {
      throw new GraftError('BAD_INPUT', `config.${unsupported.join(' and config.')} with objective implicit-als; ALS factorises user and item ID rows only: turn ${unsupported.length > 1 ? 'them' : 'it'} off (CLI: --no-user-history)`);
    }
    requireUserRows(config, 'implicit-als', 'ALS solves a row per user');
    checkAlsSettings(config, 'implicit-als');
  },
});

/** Whether an objective's item tower can pool the item's audience (`itemAudience`): towers trained by gradient steps whose rows ALS does not solve, i.e. the softmax towers. */
export function poolsItemAudience(objective: string | undefined): boolean {
  const traits = modelObjective(objective ?? 'softmax');
  return traits.layers === 'towers' && !traits.alsRows;
}

/** Whether an objective's fresh fit starts its ID rows where `rowInit` says: rows trained by gradient steps that ALS does not solve, i.e. the softmax towers'. */
export function startsRowsAtRowInit(objective: string | undefined): boolean {
  const traits = modelObjective(objective ?? 'softmax');
  return traits.gradientSteps && !traits.alsRows;
}

/** implicit-als and hybrid solve a row per user (and per item), so the user tower keeps its ID row and the item tower pools no audience. */
function requireUserRows(config: ObjectiveCheckedConfig, objective: string, why: string): void {
  if (config.itemAudience) {
    throw new GraftError('BAD_INPUT', `config.itemAudience with objective ${objective}; ALS solves each item's row from its users itself: turn it off (the softmax towers' setting; CLI: drop --item-audience)`);
  }
  if (config.userIdInput === false) {
    throw new GraftError('BAD_INPUT', `config.userIdInput = false with objective ${objective}; ${why}: keep the user's ID row (userIdInput true)`);
  }
  if ((config.userIdDropout ?? 0) > 0) {
    throw new GraftError('BAD_INPUT', `config.userIdDropout = ${config.userIdDropout} with objective ${objective}; ${why}: leave it at 0 (the softmax towers' setting)`);
  }
}

/** The row-solve settings implicit-als and hybrid share: BAD_INPUT naming the setting otherwise. */
function checkAlsSettings(config: ObjectiveCheckedConfig, objective: string): void {
  if (!(config.alsAlpha >= 0) || !Number.isFinite(config.alsAlpha)) {
    throw new GraftError('BAD_INPUT', `config.alsAlpha = ${config.alsAlpha} with objective ${objective}; it must be a finite number >= 0 (e.g. 40)`);
  }
  if (!Number.isInteger(config.alsCgSteps) || config.alsCgSteps < 0) {
    throw new GraftError('BAD_INPUT', `config.alsCgSteps = ${config.alsCgSteps}; it must be an integer >= 0`);
  }
  if (!(config.alsRegularization > 0) || !Number.isFinite(config.alsRegularization)) {
    throw new GraftError('BAD_INPUT', `config.alsRegularization = ${config.alsRegularization}; it must be a finite number > 0 (e.g. 0.1)`);
  }
  checkPopularityWeight(config, objective);
}

/** The popularity term's weight (every objective): BAD_INPUT naming the value unless a finite number >= 0. */
function checkPopularityWeight(config: ObjectiveCheckedConfig, objective: string): void {
  const beta = config.popularityWeight ?? 0;
  if (!(beta >= 0) || !Number.isFinite(beta)) {
    throw new GraftError('BAD_INPUT', `config.popularityWeight = ${config.popularityWeight} with objective ${objective}; it must be a finite number >= 0 (0 = no popularity term, e.g. 0.05)`);
  }
}

/**
 * Hybrid towers: layer 0 (the ID tables) solved by implicit ALS, an MLP above it trained by
 * the in-batch softmax with the ID rows frozen, tokens and history pooling entering above
 * layer 0. The MLP is a residual on the ID row (output = row + MLP(row, tokens, history),
 * last layer at zero at the start), scored by inner product as ALS trains, so the second
 * stage starts exactly at the ALS solution.
 */
const HYBRID = defineObjective({
  name: 'hybrid',
  scorings: ['inner-product'],
  layers: 'towers',
  gradientSteps: true,
  alsRows: true,
  residual: true,
  modelDefaults: { userIdInput: true, userIdDropout: 0, historyDropout: 0 },
  ownSettings: ['alsAlpha', 'alsRegularization', 'alsCgSteps', 'alsSweeps', 'topLearningRate'],
  tuned: { settings: ['alsAlpha', 'alsRegularization', 'learningRate'], firstRungEpochs: 1 },
  check(config) {
    const last = config.layers[config.layers.length - 1];
    if (last === undefined) {
      throw new GraftError('BAD_INPUT', `config.layers = [] with objective hybrid; its towers train MLP layers above the ALS-solved ID rows: give at least one layer ending at dim, e.g. [${2 * config.dim}, ${config.dim}] (or use objective implicit-als for ID rows alone)`);
    }
    if (last !== config.dim) {
      throw new GraftError('BAD_INPUT', `config.layers = [${config.layers.join(', ')}] with objective hybrid ends at ${last}, but the towers add the MLP's output to the ${config.dim}-wide ID row: end the layers at dim (e.g. [${[...config.layers.slice(0, -1), config.dim].join(', ')}])`);
    }
    requireUserRows(config, 'hybrid', 'its towers add the MLP to the ALS-solved ID row');
    if (config.itemBias) {
      throw new GraftError('BAD_INPUT', 'config.itemBias with objective hybrid; ALS rows carry popularity in their norms: turn itemBias off');
    }
    checkAlsSettings(config, 'hybrid');
    if (!Number.isInteger(config.alsSweeps) || config.alsSweeps < 1) {
      throw new GraftError('BAD_INPUT', `config.alsSweeps = ${config.alsSweeps}; it must be an integer >= 1 (e.g. 10)`);
    }
  },
});

const MODEL_OBJECTIVES: Record<TrainingObjective, ModelObjective> = { softmax: SOFTMAX, 'implicit-als': IMPLICIT_ALS, hybrid: HYBRID };

/**
 * The objective of this name; BAD_INPUT naming the known ones otherwise.
 *
 * @example
 * modelObjective(config.objective).scoring; // 'cosine' | 'inner-product'
 */
export function modelObjective(name: unknown, field = 'objective'): ModelObjective {
  if (typeof name === 'string' && (TRAINING_OBJECTIVES as readonly string[]).includes(name)) return MODEL_OBJECTIVES[name as TrainingObjective];
  throw new GraftError('BAD_INPUT', `${field} = ${JSON.stringify(name)} is unknown; use ${TRAINING_OBJECTIVES.join(' or ')}`);
}

/** The objectives that read a setting of their own (e.g. alsAlpha: implicit-als); empty for shared settings. */
export function objectivesReading(setting: string): TrainingObjective[] {
  return TRAINING_OBJECTIVES.filter((name) => MODEL_OBJECTIVES[name].ownSettings.includes(setting));
}

/**
 * Whether a model of this config can take the popularity term (`popularityWeight`): every
 * objective, unless a learned item bias (`itemBias`, softmax) holds the column it would use.
 * AUTO profiles the term's weight on such models' trials.
 */
export function takesPopularityTerm(config: { itemBias?: boolean }): boolean {
  return config.itemBias !== true;
}

/** The scoring of a registered model from its stored config (`config.model`, as trained); absent objective = softmax. */
export function scoringOf(config: unknown): ModelScoring {
  const model = (config as { model?: { objective?: string; itemBias?: boolean; popularityWeight?: number; scoring?: string } } | null)?.model;
  // An item-bias column (learned, or the popularity term) makes the score <[u, 1], [v, b]>: an inner product whatever the towers' own.
  if (model?.itemBias === true || (model?.popularityWeight ?? 0) > 0) return 'inner-product';
  const name = model?.objective ?? 'softmax';
  if (!(TRAINING_OBJECTIVES as readonly string[]).includes(name)) return 'cosine';
  const objective = MODEL_OBJECTIVES[name as TrainingObjective];
  // The model's own choice (TwoTowerConfig.scoring) where its objective offers one.
  return objective.scorings.find((s) => s === model?.scoring) ?? objective.scoring;
}
