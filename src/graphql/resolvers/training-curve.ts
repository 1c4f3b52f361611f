import type { JobEventRecord } from '../../jobs/index.js';
import type { ModelRecord } from '../../registry/index.js';
import { TrainingCurve, TrainingCurveSource, type EpochPoint, type TrainingSeries } from '../types/explorer.type.js';

/** The event kinds a curve is read from: `started` marks each attempt, `epoch` carries the losses. */
export const CURVE_EVENT_KINDS = ['started', 'epoch'] as const;

/**
 * A model's training curve: from its job's epoch events when it has them (a transfer job
 * reports its baseline's epochs too), else from the epoch history stored in its metrics
 * (models registered by the CLI or the demo have no job).
 */
export function trainingCurveOf(model: ModelRecord, jobEvents: readonly JobEventRecord[]): TrainingCurve {
  const metricsTraining = (model.metrics as { training?: { bestEpoch?: number; history?: unknown } }).training;
  const base = { modelId: model.id, jobId: model.jobId, bestEpoch: typeof metricsTraining?.bestEpoch === 'number' ? metricsTraining.bestEpoch : null };
  const fromEvents = seriesFromJobEvents(jobEvents);
  if (fromEvents.length > 0) return Object.assign(new TrainingCurve(), { ...base, source: TrainingCurveSource.JOB_EVENTS, series: fromEvents });
  const history = Array.isArray(metricsTraining?.history) ? (metricsTraining.history as unknown[]) : [];
  const points = history.map(toPoint).filter((p): p is EpochPoint => p !== null);
  if (points.length === 0) return Object.assign(new TrainingCurve(), { ...base, source: TrainingCurveSource.NONE, series: [] });
  const phase = model.kind === 'TRANSFER' ? 'transfer' : 'training';
  return Object.assign(new TrainingCurve(), { ...base, source: TrainingCurveSource.MODEL_METRICS, series: [{ phase, points }] });
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
