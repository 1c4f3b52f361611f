import { GraftError } from '../errors.js';
import type { EvaluationReport } from '../evaluation/evaluate.js';
import { pairedBootstrap } from '../evaluation/paired-bootstrap.js';
import type { OverlapReport } from './alignment.js';

/** Gain of the transferred model over the target-only baseline on one metric. */
export interface MetricGain {
  /** Mean over test users of (transferred - baseline). */
  value: number;
  /** Paired bootstrap 95% interval of `value` over test users. */
  ci95: [number, number];
  /** value / baseline (null when the baseline is 0). */
  relative: number | null;
}

export interface StratumComparison {
  label: string;
  users: number;
  transferred: Record<string, number>;
  baseline: Record<string, number>;
  popularity: Record<string, number>;
}

export interface TransferReport {
  strategy: string;
  /** What the strategy froze, in words. */
  frozen: string;
  freezeLayers?: number;
  replayWeight: number;
  overlap: OverlapReport;
  protocol: string;
  users: number;
  metrics: Record<string, number>;
  baseline: Record<string, number>;
  popularity: Record<string, number>;
  gain: Record<string, MetricGain>;
  /** The metric whose interval decides `negativeTransfer`. */
  guardMetric: string;
  /** True when the guard metric's interval does not lie above 0: never activated automatically. */
  negativeTransfer: boolean;
  strata: StratumComparison[];
}

/**
 * Compares the transferred model with its same-budget baseline on the same test users:
 * per-metric gain with a paired bootstrap interval, and the negative-transfer flag.
 */
export function compareWithBaseline(
  transferred: EvaluationReport,
  baseline: EvaluationReport,
  popularity: EvaluationReport,
  options: { guardMetric?: string; samples?: number; seed?: number },
): Pick<TransferReport, 'metrics' | 'baseline' | 'popularity' | 'gain' | 'guardMetric' | 'negativeTransfer' | 'strata' | 'users' | 'protocol'> {
  if (transferred.perUser.users.length !== baseline.perUser.users.length || !transferred.perUser.users.every((u, i) => u === baseline.perUser.users[i])) {
    throw new GraftError('INTERNAL', 'transferred and baseline models were evaluated on different users; a paired comparison needs the same test users');
  }
  const guardMetric = options.guardMetric ?? `hr@${transferred.ks[0]}`;
  const gain: Record<string, MetricGain> = {};
  for (const [metric, values] of Object.entries(transferred.perUser.values)) {
    const base = baseline.perUser.values[metric];
    if (!base || values.length === 0) continue;
    const { mean, ci } = pairedBootstrap(values, base, { samples: options.samples ?? 1000, seed: options.seed ?? 2040 });
    const b = baseline.metrics[metric] ?? 0;
    gain[metric] = { value: mean, ci95: [ci[0], ci[1]], relative: b === 0 ? null : mean / b };
  }
  const guard = gain[guardMetric];
  if (!guard) throw new GraftError('BAD_INPUT', `guard metric "${guardMetric}" is not among the evaluated metrics (${Object.keys(gain).join(', ')})`);
  const baseStrata = new Map(baseline.strata.map((s) => [s.label, s.metrics]));
  const popStrata = new Map(popularity.strata.map((s) => [s.label, s.metrics]));
  return {
    protocol: transferred.protocol,
    users: transferred.users,
    metrics: transferred.metrics,
    baseline: baseline.metrics,
    popularity: popularity.metrics,
    gain,
    guardMetric,
    negativeTransfer: !(guard.ci95[0] > 0),
    strata: transferred.strata.map((s) => ({
      label: s.label,
      users: s.users,
      transferred: s.metrics,
      baseline: baseStrata.get(s.label) ?? {},
      popularity: popStrata.get(s.label) ?? {},
    })),
  };
}
