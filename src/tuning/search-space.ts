import { createRng } from '../dataset/random.js';
import type { ModelObjective, ModelScoring, TunedSetting } from '../model/objective.js';
import type { TrainingObjective } from '../model/training-objective.js';
import type { TransferStrategyName } from '../transfer/transfer-strategy.js';

/** A range AUTO draws a setting from: log-uniform for rates and strengths, uniform otherwise. */
export interface SearchRange {
  scale: 'log' | 'linear';
  min: number;
  max: number;
  /** Probability of drawing exactly 0 instead (an off switch, e.g. no weight decay). */
  zero?: number;
}

/**
 * Each searched setting's range. Wide on purpose (a decade or two around the values measured
 * on the shared pairs, BENCHMARKS.md "AUTO"): the search has to hold on pairs nobody tuned on.
 */
export const SEARCH_RANGES: Record<TunedSetting | 'replayWeight', SearchRange> = {
  alsAlpha: { scale: 'log', min: 1, max: 100 },
  alsRegularization: { scale: 'log', min: 0.01, max: 10 },
  learningRate: { scale: 'log', min: 3e-4, max: 1e-2 },
  temperature: { scale: 'log', min: 0.03, max: 0.3 },
  l2: { scale: 'log', min: 1e-7, max: 1e-4, zero: 0.5 },
  /*
   * The softmax user tower's two dropouts (BENCHMARKS.md "Softmax towers that learn from
   * histories"): on the shared pairs the best values sat at 0.8 / 0.5-0.8 and 0 was the worst;
   * how many events a user has decides them, so they are drawn over nearly their whole range.
   */
  userIdDropout: { scale: 'linear', min: 0, max: 0.95 },
  historyDropout: { scale: 'linear', min: 0, max: 0.9 },
  replayWeight: { scale: 'linear', min: 0, max: 1, zero: 0.25 },
  /*
   * β of the popularity term β·log(1 + n_i) (implicit-als, hybrid), in ALS score units: a
   * positive pair's predicted preference is about 1 and an unobserved one's about 0, so a
   * user's top scores spread over a few tenths, while log(1 + n) spans ~0.7 (one event) to
   * ~5-7 (the head of a catalogue). At β = 0.001 the term moves scores by < 0.01 (nothing);
   * at β = 1 it outweighs any u·v (pure popularity). A quarter of the draws are exactly 0.
   */
};

/** One searched configuration: the strategy (absent: target-only) and the settings drawn for it. */
export interface Candidate {
  /** The objective when the search varies it (absent: the run's own). */
  objective?: TrainingObjective;
  strategy?: TransferStrategyName;
  /** PARTIAL: the lowest N layers frozen. */
  freezeLayers?: number;
  replayWeight?: number;
  alsAlpha?: number;
  alsRegularization?: number;
  learningRate?: number;
  temperature?: number;
  l2?: number;
  userIdDropout?: number;
  historyDropout?: number;
  popularityWeight?: number;
  /**
   * How the model scores (objectives that offer a choice: the softmax towers' cosine or inner
   * product). Drawn uniformly, a category, not a range: which one fits depends on the data
   * (BENCHMARKS.md "Inner-product scoring for the softmax towers").
   */
  scoring?: ModelScoring;
  /** AUTO over several sources: the index of the source the candidate grafts (absent: the given one, 0). */
  source?: number;
}

/** What is searched: the strategy choices (none: target-only), whether replay is, and the objective's settings. */
export interface SearchSpace {
  /**
   * `noReplay`: the strategy sets its own source events (JOINT: all of them at weight 1), so no
   * replay weight is drawn. `objective`: the transferred model is of that objective (its own
   * settings drawn), not the source's: an implicit-ALS source's rows under a fresh hybrid top.
   */
  strategies: Array<{ strategy: TransferStrategyName; freezeLayers?: number; noReplay?: boolean; objective?: ModelObjective }>;
  replay: boolean;
  settings: readonly TunedSetting[];
  /**
   * The objectives to draw from, each with its own tuned settings (then `settings` is unused):
   * the target-only search compares the model families on the user's data (implicit ALS,
   * hybrid towers and softmax towers win on different data). Absent: the run's objective only.
   */
  objectives?: readonly ModelObjective[];
  /**
   * The scorings drawn from with one objective (its `scorings`, when it offers more than one);
   * with `objectives`, each drawn objective's own. Absent: the model's scoring is kept (a
   * transfer's towers keep the scoring their frozen layers were trained for).
   */
  scorings?: readonly ModelScoring[];
}

/**
 * The transfer search space from the source model: FEATURE_EXTRACTION, PARTIAL(N) for each N
 * that differs from it (towers with `denseLayers` MLP layers: N = 0 and 2..denseLayers+1;
 * PARTIAL(1) freezes exactly what FEATURE_EXTRACTION does), FULL, JOINT (from scratch on
 * source + target events, of the source model's config); with `layeredOver` (an ID-rows
 * source: implicit ALS), PARTIAL(1) into towers of that objective (hybrid: the pretrained rows
 * frozen, new rows solved, a fresh top trained on the target); the replay weight when the
 * source has events of target users (not for JOINT); each candidate objective's tuned settings.
 */
export function transferSearchSpace(objective: ModelObjective, denseLayers: number, hasReplay: boolean, layeredOver?: ModelObjective): SearchSpace {
  const partial = denseLayers > 0 ? [0, ...Array.from({ length: denseLayers }, (_, i) => i + 2)] : [];
  return {
    strategies: [
      { strategy: 'FEATURE_EXTRACTION' },
      ...partial.map((n) => ({ strategy: 'PARTIAL' as const, freezeLayers: n })),
      { strategy: 'FULL' },
      ...(hasReplay ? [{ strategy: 'JOINT' as const, noReplay: true }] : []),
      // The source's rows frozen (layer 0), a fresh top of `layeredOver` trained on the target above them.
      ...(layeredOver ? [{ strategy: 'PARTIAL' as const, freezeLayers: 1, objective: layeredOver }] : []),
    ],
    replay: hasReplay,
    settings: objective.tuned.settings,
  };
}

/**
 * The target-only search space: no strategy, no replay; the objective's settings, or with
 * `objectives` (the run's first) every one of them, each with its own settings.
 */
export function targetOnlySearchSpace(objective: ModelObjective, objectives?: readonly ModelObjective[]): SearchSpace {
  return {
    strategies: [],
    replay: false,
    settings: objective.tuned.settings,
    ...(objectives && objectives.length > 1 ? { objectives } : objective.scorings.length > 1 ? { scorings: objective.scorings } : {}),
  };
}

/**
 * A seeded sampler: the n-th draw depends only on (space, seed, n), so a search replays
 * exactly. The first draws are the defaults where given (`anchors`: one per objective searched),
 * so the search never does worse on validation than the untuned defaults at the same budget.
 */
export function candidateSampler(space: SearchSpace, seed: number, anchors: Candidate | readonly Candidate[] = {}): (n: number) => Candidate {
  const fixed = (Array.isArray(anchors) ? anchors : [anchors]).filter((a: Candidate) => Object.keys(a).length > 0) as Candidate[];
  return (n) => {
    if (n < fixed.length) return { ...fixed[n]! };
    const rng = createRng(seed * 7919 + n);
    const out: Candidate = {};
    if (space.objectives && space.objectives.length > 0) {
      const objective = space.objectives[rng.int(space.objectives.length)]!;
      out.objective = objective.name;
      for (const name of objective.tuned.settings) out[name] = round(draw(SEARCH_RANGES[name], rng.next, rng.next()));
      // Drawn after the numeric settings, so those draw as they did before scoring was searched.
      if (objective.scorings.length > 1) out.scoring = objective.scorings[rng.int(objective.scorings.length)]!;
      return out;
    }
    const choice = space.strategies.length > 0 ? space.strategies[rng.int(space.strategies.length)]! : undefined;
    if (choice) {
      out.strategy = choice.strategy;
      if (choice.freezeLayers !== undefined) out.freezeLayers = choice.freezeLayers;
      if (choice.objective) out.objective = choice.objective.name;
    }
    if (space.replay && !choice?.noReplay) out.replayWeight = round(draw(SEARCH_RANGES.replayWeight, rng.next, rng.next()));
    for (const name of choice?.objective?.tuned.settings ?? space.settings) out[name] = round(draw(SEARCH_RANGES[name], rng.next, rng.next()));
    if (space.scorings && space.scorings.length > 1) out.scoring = space.scorings[rng.int(space.scorings.length)]!;
    return out;
  };
}

/** One line for reports and progress: `FULL, replay 0.42, alsAlpha 12.3, alsRegularization 0.051`. */
export function describeCandidate(c: Candidate): string {
  const parts: string[] = [];
  if (c.strategy) parts.push(c.strategy === 'PARTIAL' ? `PARTIAL(${c.freezeLayers ?? 1})` : c.strategy);
  else parts.push('target only');
  for (const [key, value] of Object.entries(c)) {
    if (key === 'strategy' || key === 'freezeLayers' || value === undefined) continue;
    if (key === 'objective') {
      parts.push(String(value));
      continue;
    }
    parts.push(`${key === 'replayWeight' ? 'replay' : key} ${value}`);
  }
  return parts.join(', ');
}

function draw(range: SearchRange, next: () => number, u: number): number {
  if (range.zero !== undefined && next() < range.zero) return 0;
  if (range.scale === 'log') return Math.exp(Math.log(range.min) + u * (Math.log(range.max) - Math.log(range.min)));
  return range.min + u * (range.max - range.min);
}

/** Three significant digits: readable in reports, and the stored settings are the ones used. */
function round(x: number): number {
  return x === 0 ? 0 : Number(x.toPrecision(3));
}
