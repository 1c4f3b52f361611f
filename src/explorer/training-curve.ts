import type { Db } from '../db/database.js';
import { listJobEvents, type JobEventRecord } from '../jobs/index.js';
import { getModel, type ModelRecord } from '../registry/index.js';

/** The event kinds a curve is read from: `started` marks each attempt, `epoch` carries the losses. */
const CURVE_EVENT_KINDS = ['started', 'epoch'] as const;
/** More epoch events than any run reports (epochs of the model, plus its baseline's). */
const MAX_CURVE_EVENTS = 5_000;

export interface EpochPoint {
  /** 1-based. */
  epoch: number;
  loss: number;
  validation: number | null;
}

export interface TrainingSeries {
  /** 'training' (pretraining), 'transfer' or 'baseline'. */
  phase: string;
  points: EpochPoint[];
}

export interface TrainingCurve {
  modelId: string;
  jobId: string | null;
  /** Where the points come from: the job's epoch events, the history stored in the model's metrics, or nowhere. */
  source: 'JOB_EVENTS' | 'MODEL_METRICS' | 'NONE';
  series: TrainingSeries[];
  /** Epoch whose weights were kept (early stopping restores the best). */
  bestEpoch: number | null;
  /** softmax: epochs of item-row refinement kept after `bestEpoch` (the curve's later epochs; 0 = tried, put back; null = not tried). */
  refinedEpochs: number | null;
  /** What the validation points measure (null: a model stored before this was recorded: `hr@10 (sampled, 99 negatives, at most 2000 users)`, or no validation). */
  validationMetric: string | null;
}

/**
 * Loss and validation metric per epoch of the run that produced a model (and of its
 * baseline for a transfer job).
 *
 * @example
 * const curve = await getTrainingCurve(db, modelId); // { source: 'JOB_EVENTS', series: [{ phase: 'transfer', points }, ...] }
 */
export async function getTrainingCurve(db: Db, modelId: string): Promise<TrainingCurve> {
  const model = await getModel(db, modelId);
  const events = model.jobId ? await listJobEvents(db, model.jobId, { kinds: CURVE_EVENT_KINDS, limit: MAX_CURVE_EVENTS }) : [];
  return trainingCurveOf(model, events);
}

/**
 * A model's training curve: from its job's epoch events when it has them (a transfer job
 * reports its baseline's epochs too), else from the epoch history stored in its metrics
 * (models registered by the CLI or the demo have no job).
 */
export function trainingCurveOf(model: ModelRecord, jobEvents: readonly JobEventRecord[]): TrainingCurve {
  const metricsTraining = (model.metrics as { training?: { bestEpoch?: number; refinedEpochs?: number; validationMetric?: unknown; history?: unknown } }).training;
  const base = {
    modelId: model.id,
    jobId: model.jobId,
    bestEpoch: typeof metricsTraining?.bestEpoch === 'number' ? metricsTraining.bestEpoch : null,
    refinedEpochs: typeof metricsTraining?.refinedEpochs === 'number' ? metricsTraining.refinedEpochs : null,
    validationMetric: typeof metricsTraining?.validationMetric === 'string' ? metricsTraining.validationMetric : null,
  };
  const fromEvents = seriesFromJobEvents(jobEvents);
  if (fromEvents.length > 0) return { ...base, source: 'JOB_EVENTS', series: fromEvents };
  const history = Array.isArray(metricsTraining?.history) ? (metricsTraining.history as unknown[]) : [];
  const points = history.map(toPoint).filter((p): p is EpochPoint => p !== null);
  if (points.length === 0) return { ...base, source: 'NONE', series: [] };
  const phase = model.kind === 'TRANSFER' ? 'transfer' : 'training';
  return { ...base, source: 'MODEL_METRICS', series: [{ phase, points }] };
}

/** Epoch events of the last attempt (a job retried after a crash reported the first attempt's epochs too), per phase in order of appearance. */
function seriesFromJobEvents(events: readonly JobEventRecord[]): TrainingSeries[] {
  let start = 0;
  events.forEach((e, i) => {
    if (e.kind === 'started') start = i + 1;
  });
  const byPhase = new Map<string, EpochPoint[]>();
  for (const e of events.slice(start)) {
    if (e.kind !== 'epoch') continue;
    const point = toPoint(e.payload);
    if (!point) continue;
    const phase = typeof e.payload.phase === 'string' ? e.payload.phase : 'training';
    let points = byPhase.get(phase);
    if (!points) byPhase.set(phase, (points = []));
    points.push(point);
  }
  return [...byPhase.entries()].map(([phase, points]) => ({ phase, points }));
}

function toPoint(raw: unknown): EpochPoint | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const { epoch, loss, validation } = raw as Record<string, unknown>;
  if (typeof epoch !== 'number' || typeof loss !== 'number' || !Number.isFinite(loss)) return null;
  return { epoch, loss, validation: typeof validation === 'number' && Number.isFinite(validation) ? validation : null };
}
