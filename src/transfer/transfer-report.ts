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

/** A synthetic cold-start carve: a seeded share of the overlapping target users had their whole target history moved into test. */
export interface ColdStartCarve {
  share: number;
  seed: number;
  /** Users it moved (0 when share is 0). */
  users: number;
}

/** Held-out pairs left out of test, by reason (all 0 but for a file split). */
export interface TestPairDrops {
  header: number;
  unknownUser: number;
  unknownItem: number;
}

/** One trial of AUTO's search (a row of the report's trial table). */
export interface SearchTrialRecord {
  /** Which search: the transfer's, the target-only baseline's (the fair guard), or a single domain's (`graft train --auto`). */
  search: 'transfer' | 'baseline' | 'train';
  /** The configuration's number in its search (sampling order). */
  config: number;
  /** The configuration in words (`FULL, replay 0.42, alsAlpha 12.3`). */
  label: string;
  settings: Record<string, unknown>;
  /** 0 = the cheapest budget; a promoted configuration is retrained at the next rung. */
  rung: number;
  /** Epochs (sweeps for implicit ALS) of this trial. */
  epochs: number;
  /** The validation metric (on the validation carve of the target's training data). */
  validation: number;
  seconds: number;
  /**
   * Fitted after the search at the top rung's budget as a candidate partner for a blend
   * (`SearchReport.blend`), not promoted by the search: it took no part in choosing the winner.
   */
  forBlend?: boolean;
}

/** What AUTO searched and chose: every trial, and the winners retrained on all training data. */
export interface SearchReport {
  /** `--budget` as given or defaulted: `16` configurations or `10m`. */
  budget: string;
  eta: number;
  rungs: number;
  /** The validation metric trials are ranked by (sampled, on the validation carve). */
  metric: string;
  /** Users in the validation carve (each one's last training event; users with at least 2). */
  validationUsers: number;
  seed: number;
  trials: SearchTrialRecord[];
  /** The chosen configuration (in words) and its epochs: the transfer's (or the single domain's model). */
  transfer: { label: string; epochs: number; validation: number };
  /** The baseline's chosen configuration (absent for a single domain). */
  baseline?: { label: string; epochs: number; validation: number };
  /**
   * A transfer search's verdict (absent for a single domain): 'transfer' when the best
   * transfer's validation gain over the best target-only configuration lies above 0 (paired
   * bootstrap 95% interval over the carve users), else 'target-only' (no transfer: the tuned
   * target-only model is the result).
   */
  decision?: 'transfer' | 'target-only';
  /** The best transfer's validation gain over the best target-only configuration (the metric's mean over carve users, paired bootstrap 95% interval). */
  validationGain?: { value: number; ci95: [number, number] };
  /** The best blend of the winning transfer with another kind's best trial on the carve (absent when none could be tried). */
  blend?: BlendReport;
  /** Whether a minutes budget stopped a search (the interrupted trial is not in `trials`). */
  stoppedByClock: boolean;
  seconds: number;
}

/**
 * AUTO's blend of its winning transfer (implicit-ALS rows) with the best trial of another
 * kind, scores averaged in units of each model's typical score (`workflows/blend.ts`): the
 * best one tried on the carve, and whether it was delivered (its gain over the winner alone
 * significant, as a transfer's over its baseline must be).
 */
export interface BlendReport {
  /** The other model, in words (`JOINT, alsAlpha 34.2, ...`). */
  partner: string;
  partnerSearch: 'transfer' | 'baseline';
  /** The other model's epochs (sweeps). */
  partnerEpochs: number;
  /** The winning transfer's weight; the partner's is 1 - weight. */
  weight: number;
  /** The blend's popularity term β, profiled on the carve like every ALS-rows trial's. */
  popularityWeight: number;
  /** The blend's validation metric. */
  validation: number;
  /** Its gain over the winning transfer alone, per carve user: mean and paired bootstrap 95% interval. */
  validationGain: { value: number; ci95: [number, number] };
  /** Blends scored (other kinds x weights). */
  tried: number;
  /** Whether the delivered model is this blend. */
  delivered: boolean;
}

export interface TransferReport {
  /** AUTO's search, when the strategy was chosen by it (`strategy` is then the chosen one). */
  search?: SearchReport;
  /**
   * 'TRANSFER' (absent in older reports): the model is a transfer, judged by the guard against
   * its baseline and popularity. 'TARGET_ONLY': AUTO found no transfer that beat the tuned
   * target-only model on validation, so that model is the result (registered as a single-domain
   * model, no source weight in it); `strategy` is then 'NONE', its gain over the baseline is 0
   * by construction and only the popularity check guards it.
   */
  outcome?: 'TRANSFER' | 'TARGET_ONLY';
  strategy: string;
  /** What the strategy froze, in words. */
  frozen: string;
  freezeLayers?: number;
  /** Weight of replayed source events (0: no replay; JOINT trains on the source events instead, see `sourceEvents`). */
  replayWeight: number;
  /** 'pretrained': grafted from the source model's weights; 'scratch': JOINT, no pretrained weight (absent in older reports). */
  start?: 'pretrained' | 'scratch';
  /** The source events the model trained on (absent in older reports): how many, their weight, how many per epoch. */
  sourceEvents?: SourceEventsUsed;
  overlap: OverlapReport;
  protocol: string;
  /** Test users evaluated (every model on the same ones). */
  users: number;
  /** Their test interactions. */
  rows: number;
  /** Held-out pairs left out of test and why. */
  dropped?: TestPairDrops;
  /**
   * Where the "0" stratum (test users with no target training events) comes from: test users of
   * a fixed split with source history only (`fromTestFile`), and the synthetic carve.
   */
  coldStart?: { fromTestFile: number; carve: ColdStartCarve };
  metrics: Record<string, number>;
  baseline: Record<string, number>;
  popularity: Record<string, number>;
  /** Transferred minus the same-budget target-only baseline, per metric. */
  gain: Record<string, MetricGain>;
  /** Transferred minus popularity on the same users (and negatives), per metric. */
  gainOverPopularity: Record<string, MetricGain>;
  /** The metric whose intervals decide `negativeTransfer`. */
  guardMetric: string;
  /** The two comparisons of the guard: true when the guard metric's interval lies above 0. */
  guard: { beatsBaseline: boolean; beatsPopularity: boolean };
  /** True when either guard interval does not lie above 0: never activated automatically. */
  negativeTransfer: boolean;
  strata: StratumComparison[];
  /**
   * The JOINT reference (`jointReference`): the same-budget model trained from scratch on the
   * source and target events together, on the same test users and negatives, and the
   * transfer's gain over it. A reference, not part of the guard. Absent for a JOINT transfer,
   * when switched off, and in older reports.
   */
  joint?: ReferenceComparison;
}

/** Source events in a transferred model's training. */
export interface SourceEventsUsed {
  /** Source events of the rows the alignment keeps (0 when none joined training). */
  events: number;
  weight: number;
  /** Source examples drawn per epoch (every one of them for JOINT; ALS counts every event in every sweep). */
  perEpoch: number;
}

/** A reference model's metrics and the transfer's paired gain over it. */
export interface ReferenceComparison {
  strategy: string;
  metrics: Record<string, number>;
  /** Transferred minus the reference, per metric, with its paired bootstrap 95% interval. */
  gain: Record<string, MetricGain>;
}

/**
 * The transfer's gain over a reference model evaluated on the same test users (and negatives),
 * as `compareWithBaseline` measures the gain over the baseline.
 */
export function compareWithReference(
  strategy: string,
  transferred: EvaluationReport,
  reference: EvaluationReport,
  options: { samples?: number; seed?: number },
): ReferenceComparison {
  if (transferred.perUser.users.length !== reference.perUser.users.length || !transferred.perUser.users.every((u, i) => u === reference.perUser.users[i])) {
    throw new GraftError('INTERNAL', `the transferred model and the ${strategy} reference were evaluated on different users; a paired comparison needs the same test users`);
  }
  return { strategy, metrics: reference.metrics, gain: gains(transferred, reference, options) };
}

/**
 * Compares the transferred model with its same-budget baseline and with popularity on the
 * same test users: per-metric gains with paired bootstrap intervals, and the negative-transfer
 * flag, raised unless the guard metric's gain lies above 0 against both (a transfer that beats
 * a weak baseline but not the most popular items is no product gain).
 */
export function compareWithBaseline(
  transferred: EvaluationReport,
  baseline: EvaluationReport,
  popularity: EvaluationReport,
  options: { guardMetric?: string; samples?: number; seed?: number },
): Pick<TransferReport, 'metrics' | 'baseline' | 'popularity' | 'gain' | 'gainOverPopularity' | 'guardMetric' | 'guard' | 'negativeTransfer' | 'strata' | 'users' | 'rows' | 'protocol'> {
  for (const [name, other] of [['baseline', baseline], ['popularity', popularity]] as const) {
    if (transferred.perUser.users.length !== other.perUser.users.length || !transferred.perUser.users.every((u, i) => u === other.perUser.users[i])) {
      throw new GraftError('INTERNAL', `the transferred model and ${name} were evaluated on different users; a paired comparison needs the same test users`);
    }
  }
  if (transferred.users === 0) {
    throw new GraftError('BAD_INPUT', 'no test user could be evaluated, so the transfer cannot be compared with its baseline; check the test set (the report of dropped test pairs says why each was left out)');
  }
  const guardMetric = options.guardMetric ?? `hr@${transferred.ks[0]}`;
  const gain = gains(transferred, baseline, options);
  const gainOverPopularity = gains(transferred, popularity, options);
  const guardGain = gain[guardMetric];
  const guardPopularity = gainOverPopularity[guardMetric];
  if (!guardGain || !guardPopularity) throw new GraftError('BAD_INPUT', `guard metric "${guardMetric}" is not among the evaluated metrics (${Object.keys(gain).join(', ')}); use one of them`);
  const guard = { beatsBaseline: guardGain.ci95[0] > 0, beatsPopularity: guardPopularity.ci95[0] > 0 };
  const baseStrata = new Map(baseline.strata.map((s) => [s.label, s.metrics]));
  const popStrata = new Map(popularity.strata.map((s) => [s.label, s.metrics]));
  return {
    protocol: transferred.protocol,
    users: transferred.users,
    rows: transferred.rows,
    metrics: transferred.metrics,
    baseline: baseline.metrics,
    popularity: popularity.metrics,
    gain,
    gainOverPopularity,
    guardMetric,
    guard,
    negativeTransfer: !(guard.beatsBaseline && guard.beatsPopularity),
    strata: transferred.strata.map((s) => ({
      label: s.label,
      users: s.users,
      transferred: s.metrics,
      baseline: baseStrata.get(s.label) ?? {},
      popularity: popStrata.get(s.label) ?? {},
    })),
  };
}

/**
 * Why a report is (or is not) flagged, in words: which of the guard's two comparisons failed.
 * Reports stored before the popularity comparison existed have no `guard`: the baseline one decided.
 */
export function describeGuard(report: Pick<TransferReport, 'guardMetric' | 'negativeTransfer'> & Partial<Pick<TransferReport, 'guard' | 'outcome'>>): string {
  const m = report.guardMetric;
  if (report.outcome === 'TARGET_ONLY') {
    return report.negativeTransfer
      ? `no transfer (AUTO's tuned target-only model won on validation), and its ${m} gain interval over popularity does not lie above 0`
      : `no transfer (AUTO's tuned target-only model won on validation); its ${m} gain interval over popularity lies above 0`;
  }
  if (!report.negativeTransfer) return `positive transfer: the ${m} gain interval lies above 0 against the baseline and against popularity`;
  if (!report.guard) return `negative transfer: the ${m} gain interval over the baseline does not lie above 0`;
  const failed = [!report.guard.beatsBaseline && 'the target-only baseline', !report.guard.beatsPopularity && 'popularity'].filter(Boolean);
  return `negative transfer: the ${m} gain interval over ${failed.join(' and over ')} does not lie above 0`;
}

/** `, gain +0.0012 [-0.0031, 0.0055]`: the transfer's validation gain over the tuned baseline, when measured. */
export function describeValidationGain(search: Pick<SearchReport, 'validationGain'>): string {
  const g = search.validationGain;
  if (!g) return '';
  const f = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(4)}`;
  return `, gain ${f(g.value)} [${f(g.ci95[0])}, ${f(g.ci95[1])}]`;
}

/** Per metric: mean over users of (transferred - other) with its paired bootstrap interval. */
function gains(transferred: EvaluationReport, other: EvaluationReport, options: { samples?: number; seed?: number }): Record<string, MetricGain> {
  const out: Record<string, MetricGain> = {};
  for (const [metric, values] of Object.entries(transferred.perUser.values)) {
    const base = other.perUser.values[metric];
    if (!base || values.length === 0) continue;
    const { mean, ci } = pairedBootstrap(values, base, { samples: options.samples ?? 1000, seed: options.seed ?? 2040 });
    const b = other.metrics[metric] ?? 0;
    out[metric] = { value: mean, ci95: [ci[0], ci[1]], relative: b === 0 ? null : mean / b };
  }
  return out;
}
