import { availableParallelism } from 'node:os';
import { modelObjective } from '../../model/objective.js';
import { defaultTowerThreads } from '../tower-threads.js';
import { train } from '../train.js';
import type { Objective } from './objective.js';

/**
 * In-batch sampled softmax over L2-normalised tower outputs (logQ correction, temperature,
 * hit masking: `InBatchSoftmaxTask`), trained by gradient steps with lazy row optimizers, on
 * `threads` worker threads (default: the machine's cores, fewer on small data: `defaultTowerThreads`).
 */
export const softmaxObjective: Objective = {
  ...modelObjective('softmax'),
  trainsOnValidation: false,
  refitsOnValidation: false,
  fit: (model, data, options) => train(model, data, { ...options, threads: options.threads ?? defaultTowerThreads(data, options.batchSize, availableParallelism()) }),
};
