import { GraftError } from '../errors.js';
import type { SearchBudget } from './search-budget.js';

/** One evaluation of a configuration at a rung's budget. */
export interface Trial<C> {
  /** The configuration's number, in sampling order (0, 1, ...). */
  config: number;
  settings: C;
  /** 0 for the first (cheapest) budget; a promoted configuration is retrained at rung + 1. */
  rung: number;
  /** The budget of this trial in the caller's unit (epochs, sweeps). */
  resource: number;
  /** Validation metric, higher is better. */
  score: number;
  seconds: number;
}

export interface HalvingOptions<C> {
  /** Draws the n-th configuration (seeded by the caller). */
  sample: (n: number) => C;
  /** Trains `settings` with `resource` and returns its validation metric (higher is better). */
  evaluate: (settings: C, resource: number, signal: AbortSignal | undefined) => Promise<number>;
  /** The budget of a configuration at rung 0 (epochs, sweeps); rung k gets `minResource(c) * eta^k`. */
  minResource: (settings: C) => number;
  budget: SearchBudget;
  /** Reduction factor: the top 1/eta of a rung are promoted to eta times the budget. */
  eta: number;
  /** Rungs in all (the top rung's budget is minResource * eta^(rungs - 1)). */
  rungs: number;
  signal?: AbortSignal;
  onTrial?: (trial: Trial<C>) => void;
  /** The clock (tests pass a fake one; defaults to performance.now). */
  now?: () => number;
}

export interface HalvingResult<C> {
  trials: Trial<C>[];
  /**
   * The best trial of any rung (ties: the higher rung, then the earlier configuration). Not
   * only the top rung's: a configuration's validation can fall with more budget (a top that
   * overfits with more epochs), and every trial is a plain function of (settings, budget), so
   * the best one is retrained exactly as it was scored.
   */
  best: Trial<C>;
  /** Whether a minutes budget stopped the search (the trial it interrupted is not recorded). */
  stoppedByClock: boolean;
}

/**
 * Asynchronous successive halving (ASHA, Li et al. 2020) run one trial at a time: whenever a
 * configuration is in the top 1/eta of the trials finished at its rung and not yet promoted,
 * it is retrained from scratch with eta times the budget at the next rung; otherwise a new
 * configuration starts at rung 0 while the budget allows. Retraining (rather than continuing)
 * keeps every trial a plain function of (settings, budget, seed). With a trial budget the
 * order, and so the result, depends only on the seed; a minutes budget stops at the clock.
 *
 * @example
 * const { best } = await successiveHalving({ sample, evaluate, minResource: () => 1, budget: { kind: 'trials', trials: 9 }, eta: 3, rungs: 3 });
 */
export async function successiveHalving<C>(options: HalvingOptions<C>): Promise<HalvingResult<C>> {
  const { eta, rungs, budget } = options;
  if (!(Number.isInteger(eta) && eta >= 2)) throw new GraftError('BAD_INPUT', `eta = ${eta} must be a whole number >= 2; use e.g. 3`);
  if (!(Number.isInteger(rungs) && rungs >= 1)) throw new GraftError('BAD_INPUT', `rungs = ${rungs} must be a whole number >= 1; use e.g. 3`);
  const now = options.now ?? (() => performance.now());
  const started = now();
  const deadline = budget.kind === 'minutes' ? started + budget.minutes * 60_000 : Number.POSITIVE_INFINITY;
  const trials: Trial<C>[] = [];
  const settingsOf: C[] = [];
  const promoted: Array<Set<number>> = Array.from({ length: rungs }, () => new Set());
  let stoppedByClock = false;

  const nextPromotion = (): { config: number; rung: number } | undefined => {
    for (let rung = rungs - 2; rung >= 0; rung--) {
      const finished = trials.filter((t) => t.rung === rung).sort(byScore);
      const top = finished.slice(0, Math.floor(finished.length / eta));
      const candidate = top.find((t) => !promoted[rung]!.has(t.config));
      if (candidate) return { config: candidate.config, rung: rung + 1 };
    }
    return undefined;
  };

  for (;;) {
    if (options.signal?.aborted) throw cancelled(options.signal);
    if (now() >= deadline) {
      stoppedByClock = true;
      break;
    }
    let next = nextPromotion();
    if (next) promoted[next.rung - 1]!.add(next.config);
    else if (budget.kind === 'minutes' || settingsOf.length < budget.trials) {
      settingsOf.push(options.sample(settingsOf.length));
      next = { config: settingsOf.length - 1, rung: 0 };
    } else break;
    const settings = settingsOf[next.config]!;
    const resource = options.minResource(settings) * eta ** next.rung;
    const { clock, signal } = clockSignal(deadline, now, options.signal);
    const t0 = now();
    let score: number;
    try {
      score = await options.evaluate(settings, resource, signal);
    } catch (error) {
      if (options.signal?.aborted) throw cancelled(options.signal);
      if (clock?.aborted) {
        stoppedByClock = true;
        break;
      }
      throw error;
    }
    if (options.signal?.aborted) throw cancelled(options.signal);
    if (clock?.aborted) {
      stoppedByClock = true;
      break;
    }
    const trial: Trial<C> = { config: next.config, settings, rung: next.rung, resource, score: Number.isFinite(score) ? score : Number.NEGATIVE_INFINITY, seconds: (now() - t0) / 1000 };
    trials.push(trial);
    options.onTrial?.(trial);
  }
  if (trials.length === 0) {
    throw new GraftError('BAD_INPUT', `the search budget ran out before its first trial finished; give a larger budget (e.g. --budget ${budget.kind === 'minutes' ? `${Math.ceil(budget.minutes * 4)}m` : '16'})`);
  }
  const best = [...trials].sort((a, b) => b.score - a.score || b.rung - a.rung || a.config - b.config)[0]!;
  return { trials, best, stoppedByClock };
}

/**
 * A trial's signals under a minutes budget: `clock` aborts at `deadline` (on `now`'s clock;
 * none when the deadline is infinite: a trials budget), `signal` at the clock or the caller's
 * `cancel`, whichever comes first. AbortSignal.timeout takes whole milliseconds (the clock's
 * are fractional: rounded up).
 */
export function clockSignal(deadline: number, now: () => number, cancel: AbortSignal | undefined): { clock?: AbortSignal; signal?: AbortSignal } {
  const clock = Number.isFinite(deadline) ? AbortSignal.timeout(Math.max(1, Math.ceil(deadline - now()))) : undefined;
  return { clock, signal: clock && cancel ? AbortSignal.any([clock, cancel]) : (clock ?? cancel) };
}

/** Higher score first; ties go to the earlier configuration (deterministic). */
function byScore(a: Trial<unknown>, b: Trial<unknown>): number {
  return b.score - a.score || a.config - b.config;
}

function cancelled(signal: AbortSignal): GraftError {
  const reason = signal.reason as Error | undefined;
  return new GraftError('CANCELLED', `search cancelled${reason ? `: ${String(reason.message ?? reason)}` : ''}`);
}
