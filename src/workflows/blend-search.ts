import { pairedBootstrap } from '../evaluation/paired-bootstrap.js';
import { clockSignal } from '../tuning/successive-halving.js';
import type { TwoTowerModel } from '../model/two-tower.model.js';
import type { BlendReport } from '../transfer/transfer-report.js';
import type { Candidate } from '../tuning/search-space.js';
import type { ScoreMix } from '../evaluation/evaluate.js';
import { BLEND_WEIGHTS, isBlendable, scoreScale, type RowVectors } from './blend.js';

/**
 * AUTO's blend search (see `blend.ts` for what a blend is). During the searches every trial
 * whose model is implicit-ALS rows is offered to `keepForBlend`, which keeps the carve vectors
 * of the best trial of each kind (the transfer search's strategy and source; the baseline's
 * objective): two trials of one kind differ only in their settings, and a blend gains from
 * models that err differently. After the verdict, `bestBlend` scores the winning transfer
 * blended with each other kind's best at `BLEND_WEIGHTS`, on the same carve and protocol.
 */

/** The best trial of a kind, with its target rows' carve vectors. */
export interface KeptTrial {
  search: 'transfer' | 'baseline';
  settings: Candidate;
  epochs: number;
  /** The trial's key in the search's per-user table. */
  key: string;
  label: string;
  score: number;
  vectors: RowVectors;
}

/** A trial's kind: what makes two trials err differently (strategy and source, or objective), not their settings. */
export function blendKind(search: 'transfer' | 'baseline', c: Candidate): string {
  return search === 'transfer' ? `transfer ${c.strategy}${c.freezeLayers ?? ''} from ${c.source ?? 0} as ${c.objective ?? 'own'}` : `baseline ${c.objective ?? 'own'}`;
}

/**
 * Keeps `model`'s first `users` x `items` rows when it is blendable (implicit-ALS rows without
 * a popularity column: trials are fitted without the term when it is profiled) and scores best
 * of its kind so far (ties: the earlier).
 */
export function keepForBlend(
  kept: Map<string, KeptTrial>,
  trial: Omit<KeptTrial, 'vectors'>,
  model: TwoTowerModel,
  users: number,
  items: number,
): void {
  if (!isBlendable(model.config) || model.outputDim !== model.config.dim || model.users < users || model.items < items) return;
  const kind = blendKind(trial.search, trial.settings);
  const previous = kept.get(kind);
  if (previous && previous.score >= trial.score) return;
  const dim = model.outputDim;
  kept.set(kind, { ...trial, vectors: { users: model.embedUsers().slice(0, users * dim), items: model.embedItems().slice(0, items * dim), dim } });
}

/** A blendable trial as the search scored it: what `blendRefits` chooses from. */
export interface BlendableTrial {
  search: 'transfer' | 'baseline';
  settings: Candidate;
  epochs: number;
  score: number;
}

/**
 * How many configurations of each partner kind are fitted at the top rung for the blend: the
 * search ranks a kind's configurations at its cheap first rung, where the settings that
 * converge fastest win (JOINT's best at 2 sweeps is a strongly regularised one), and its best
 * configuration at 18 sweeps is often another (BENCHMARKS.md, "AUTO's blend partners").
 */
export const BLEND_REFITS = 3;

/**
 * The configurations to fit at the top rung for the blend: of every blendable kind but the
 * winner's, its `perKind` best configurations (each ranked by its best score at any rung;
 * ties: the earlier), less those the search already fitted at the top rung (`topOf`).
 */
export function blendRefits(trials: readonly BlendableTrial[], winnerKind: string, topOf: (t: BlendableTrial) => number, perKind = BLEND_REFITS): BlendableTrial[] {
  const byKind = new Map<string, Map<string, { best: BlendableTrial; top: boolean }>>();
  for (const t of trials) {
    const kind = blendKind(t.search, t.settings);
    if (kind === winnerKind) continue;
    const configs = byKind.get(kind) ?? new Map<string, { best: BlendableTrial; top: boolean }>();
    byKind.set(kind, configs);
    const id = JSON.stringify(t.settings);
    const seen = configs.get(id);
    const top = t.epochs >= topOf(t);
    if (!seen) configs.set(id, { best: t, top });
    else configs.set(id, { best: t.score > seen.best.score ? t : seen.best, top: seen.top || top });
  }
  return [...byKind.values()].flatMap((configs) =>
    [...configs.values()]
      .sort((a, b) => b.best.score - a.best.score)
      .slice(0, perKind)
      .filter((c) => !c.top)
      .map((c) => c.best),
  );
}

/**
 * Fits `refits` in turn, each with `fit`, within a minutes budget's clock as each search runs
 * within its own (`deadline`, on `now`'s clock; infinite for a trials budget): none starts
 * after the deadline, and the one the clock interrupts (its `signal` aborts) is dropped, as a
 * search drops the trial its clock interrupts. `signal` is the caller's (cancellation): its
 * abort is rethrown, not taken for the clock's.
 */
export async function fitWithinClock<T>(
  refits: readonly T[],
  fit: (refit: T, signal: AbortSignal | undefined) => Promise<void>,
  options: { deadline: number; now?: () => number; signal?: AbortSignal },
): Promise<{ fitted: number; stoppedByClock: boolean }> {
  const now = options.now ?? (() => performance.now());
  let fitted = 0;
  for (const refit of refits) {
    if (now() >= options.deadline) return { fitted, stoppedByClock: true };
    const { clock, signal } = clockSignal(options.deadline, now, options.signal);
    try {
      await fit(refit, signal);
    } catch (error) {
      if (!options.signal?.aborted && clock?.aborted) return { fitted, stoppedByClock: true };
      throw error;
    }
    fitted++;
  }
  return { fitted, stoppedByClock: false };
}

/** The winner blended with a partner at each of `BLEND_WEIGHTS`, scored on the carve: each weight's best popularity weight (0 without a profile). */
export type BlendScorer = (winner: RowVectors, partner: RowVectors) => Array<{ weight: number; score: { value: number; perUser: Float32Array }; beta: number }>;

/**
 * The blend scorer of a validation carve: every weight of `BLEND_WEIGHTS` at every popularity
 * term of `biases` (`popularityBiases`, whose weights are `betas`; `[undefined]` and `[0]`: none)
 * in one pass of `scoreMixes`, the two models' scores divided by their `scoreScale` as
 * `blendVectors` does; per weight the best term (ties: the smaller).
 */
export function blendScorer(
  scoreMixes: (parts: readonly RowVectors[], mixes: readonly ScoreMix[]) => Array<{ value: number; perUser: Float32Array }>,
  biases: ReadonlyArray<Float32Array | undefined>,
  betas: readonly number[],
  rows: { targetUsers: number; targetItems: number },
): BlendScorer {
  return (winner, partner) => {
    const fa = 1 / scoreScale(winner, rows.targetUsers, rows.targetItems);
    const fb = 1 / scoreScale(partner, rows.targetUsers, rows.targetItems);
    const scores = scoreMixes(
      [winner, partner],
      BLEND_WEIGHTS.flatMap((w) => biases.map((bias) => ({ weights: [w * fa, (1 - w) * fb], ...(bias ? { bias } : {}) }))),
    );
    return BLEND_WEIGHTS.map((weight, n) => {
      let best = 0;
      for (let j = 1; j < biases.length; j++) if (scores[n * biases.length + j]!.value > scores[n * biases.length + best]!.value) best = j;
      return { weight, score: scores[n * biases.length + best]!, beta: betas[best]! };
    });
  };
}

/**
 * The best blend of the winning transfer (`winnerKey`) with another kind's best trial, on the
 * carve; `chosen` when its validation gain over the winner alone is significant by the guard's
 * test (paired bootstrap over the carve users, 95% interval above 0), as a transfer must be over
 * its baseline. `report` says what was tried either way; undefined when the winner is not a
 * kept trial or no other kind was kept.
 */
export function bestBlend(
  kept: ReadonlyMap<string, KeptTrial>,
  winnerKey: string,
  winnerPerUser: Float32Array,
  scoreBlend: BlendScorer,
  seed: number,
): { chosen?: { partner: KeptTrial; weight: number; beta: number }; report: BlendReport } | undefined {
  const winner = [...kept.values()].find((t) => t.key === winnerKey);
  if (!winner) return undefined;
  let best: { partner: KeptTrial; weight: number; beta: number; value: number; perUser: Float32Array } | undefined;
  let tried = 0;
  for (const partner of kept.values()) {
    if (partner === winner) continue;
    for (const r of scoreBlend(winner.vectors, partner.vectors)) {
      tried++;
      if (!best || r.score.value > best.value) best = { partner, weight: r.weight, beta: r.beta, value: r.score.value, perUser: r.score.perUser };
    }
  }
  if (!best) return undefined;
  const { mean, ci } = pairedBootstrap(best.perUser, winnerPerUser, { seed });
  const delivered = ci[0] > 0;
  return {
    ...(delivered ? { chosen: { partner: best.partner, weight: best.weight, beta: best.beta } } : {}),
    report: {
      partner: best.partner.label,
      partnerSearch: best.partner.search,
      partnerEpochs: best.partner.epochs,
      weight: best.weight,
      popularityWeight: best.beta,
      validation: best.value,
      validationGain: { value: mean, ci95: ci },
      tried,
      delivered,
    },
  };
}
