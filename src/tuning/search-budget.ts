import { GraftError } from '../errors.js';

/**
 * How much a search may spend: a number of configurations (each one trial at the first rung,
 * plus the promotions it earns; reproducible with a seed) or wall minutes (reproducible up to
 * where the clock stops it: the trials run in the same order, a slower machine runs fewer).
 */
export type SearchBudget = { kind: 'trials'; trials: number } | { kind: 'minutes'; minutes: number };

/**
 * The default: 16 configurations. Chosen on the validation carve of Sport -> Cloth and
 * Sport -> Phone (BENCHMARKS.md, "AUTO"): with η = 3 that is 16 + 5 + 1 trials, a few minutes
 * for implicit ALS; a minutes budget suits slow objectives (softmax on a large target).
 */
export const DEFAULT_SEARCH_BUDGET: SearchBudget = { kind: 'trials', trials: 16 };

const MAX_TRIALS = 10_000;
const MAX_MINUTES = 7 * 24 * 60;

/**
 * Parses `--budget`: `24` (configurations) or `10m` (minutes; `90s` and `2h` too).
 *
 * @example
 * parseSearchBudget('10m'); // { kind: 'minutes', minutes: 10 }
 */
export function parseSearchBudget(value: string | number): SearchBudget {
  const refuse = (): never => {
    throw new GraftError('BAD_INPUT', `budget ${JSON.stringify(value)} is neither a number of trials (a whole number from 1 to ${MAX_TRIALS}, e.g. 24) nor a time (e.g. 10m, 90s or 2h); use e.g. --budget 10m`);
  };
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 1 || value > MAX_TRIALS) return refuse();
    return { kind: 'trials', trials: value };
  }
  const text = String(value).trim().toLowerCase();
  const trials = /^\d+$/.exec(text);
  if (trials) return parseSearchBudget(Number(text));
  const time = /^(\d+(?:\.\d+)?)\s*(s|m|min|h)$/.exec(text);
  if (!time) return refuse();
  const amount = Number(time[1]);
  const minutes = time[2] === 's' ? amount / 60 : time[2] === 'h' ? amount * 60 : amount;
  if (!(minutes > 0) || minutes > MAX_MINUTES) return refuse();
  return { kind: 'minutes', minutes };
}

/** The budget as the user writes it (`24` or `10m`). */
export function formatSearchBudget(budget: SearchBudget): string {
  return budget.kind === 'trials' ? String(budget.trials) : `${Number(budget.minutes.toFixed(2))}m`;
}
