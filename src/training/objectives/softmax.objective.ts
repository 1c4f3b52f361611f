import { modelObjective } from '../../model/objective.js';
import { train } from '../train.js';
import type { Objective } from './objective.js';

/**
 * In-batch sampled softmax over L2-normalised tower outputs (logQ correction, temperature,
 * hit masking: `InBatchSoftmaxTask`), trained by gradient steps with lazy row optimizers.
 */
export const softmaxObjective: Objective = {
  ...modelObjective('softmax'),
  trainsOnValidation: false,
  refitsOnValidation: false,
  fit: (model, data, options) => train(model, data, options),
};
