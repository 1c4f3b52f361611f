import { availableParallelism } from 'node:os';
import { modelObjective } from '../../model/objective.js';
import { setPopularityBias } from '../popularity-bias.js';
import { defaultTowerThreads } from '../tower-threads.js';
import { train } from '../train.js';
import type { Objective } from './objective.js';

/**
 * In-batch sampled softmax over L2-normalised tower outputs (logQ correction, temperature,
 * hit masking: `InBatchSoftmaxTask`), trained by gradient steps with lazy row optimizers, on
 * `threads` worker threads (default: the machine's cores, fewer on small data: `defaultTowerThreads`).
 * With `popularityWeight` β > 0 the item biases are set to β·log(1 + n_i) from the fit's own
 * events first (`setPopularityBias`): they stay out of the training logits (the logQ correction
 * already accounts for popularity there) and enter the served score, so early stopping scores
 * the model as it will serve.
 */
export const softmaxObjective: Objective = {
  ...modelObjective('softmax'),
  trainsOnValidation: false,
  refitsOnValidation: false,
  fit: (model, data, options) => {
    setPopularityBias(model, data);
    return train(model, data, { ...options, threads: options.threads ?? defaultTowerThreads(data, options.batchSize, availableParallelism()) });
  },
};
