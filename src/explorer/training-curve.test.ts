import { describe, expect, it } from 'vitest';
import type { JobEventRecord } from '../jobs/index.js';
import type { ModelRecord } from '../registry/index.js';
import { trainingCurveOf } from './training-curve.js';

const model = (over: Partial<ModelRecord> = {}): ModelRecord => ({
  id: 'm1', domain: 'target', domainId: 1, version: 1, parentModelId: null, kind: 'TRANSFER', strategy: null, status: 'READY',
  config: {}, metrics: {}, transferReport: null, negativeTransfer: false, backend: null, device: null, jobId: 'j1', error: null,
  createdAt: new Date(0), readyAt: null, ...over,
});
let id = 0;
const event = (kind: string, payload: Record<string, unknown> = {}): JobEventRecord => ({ id: ++id, jobId: 'j1', kind, payload, createdAt: new Date(0) });

describe('trainingCurveOf', () => {
  it("reads the last attempt's epoch events, one series per phase in order of appearance", () => {
    const events = [
      event('started'),
      event('epoch', { epoch: 1, loss: 9, phase: 'transfer' }), // first attempt, crashed
      event('started'),
      event('epoch', { epoch: 1, loss: 3, validation: 0.2, phase: 'transfer' }),
      event('epoch', { epoch: 2, loss: 2, validation: 0.25, phase: 'transfer' }),
      event('epoch', { epoch: 1, loss: 4, phase: 'baseline' }),
      event('epoch', { epoch: 2, loss: Number.NaN, phase: 'baseline' }), // not a point
    ];
    const curve = trainingCurveOf(model({ metrics: { training: { bestEpoch: 2 } } }), events);
    expect(curve).toEqual({
      modelId: 'm1',
      jobId: 'j1',
      bestEpoch: 2,
      refinedEpochs: null,
      validationMetric: null,
      source: 'JOB_EVENTS',
      series: [
        { phase: 'transfer', points: [{ epoch: 1, loss: 3, validation: 0.2 }, { epoch: 2, loss: 2, validation: 0.25 }] },
        { phase: 'baseline', points: [{ epoch: 1, loss: 4, validation: null }] },
      ],
    });
  });

  it('falls back to the history in the model metrics (no job), and says NONE when there is neither', () => {
    const history = [{ epoch: 1, loss: 5, validation: 0.1 }, { epoch: 2, loss: 4 }];
    const fromMetrics = trainingCurveOf(model({ jobId: null, kind: 'PRETRAIN', metrics: { training: { history, bestEpoch: 1, refinedEpochs: 1, validationMetric: 'ndcg@10 (sampled, 999 negatives)' } } }), []);
    expect(fromMetrics).toMatchObject({ source: 'MODEL_METRICS', bestEpoch: 1, refinedEpochs: 1, validationMetric: 'ndcg@10 (sampled, 999 negatives)', series: [{ phase: 'training', points: [{ epoch: 1, loss: 5, validation: 0.1 }, { epoch: 2, loss: 4, validation: null }] }] });
    expect(trainingCurveOf(model({ jobId: null }), [])).toEqual({ modelId: 'm1', jobId: null, bestEpoch: null, refinedEpochs: null, validationMetric: null, source: 'NONE', series: [] });
  });
});
