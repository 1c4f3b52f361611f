import { availableParallelism } from 'node:os';
import { modelObjective } from '../../model/objective.js';
import { fitImplicitAls } from '../implicit-als.js';
import { setPopularityBias } from '../popularity-bias.js';
import type { Objective } from './objective.js';

/**
 * Implicit ALS (Hu, Koren & Volinsky 2008) on the ID tables: one sweep per epoch solves every
 * row (CG or exact); the learning rate, batch size and schedule do not apply. It trains on the
 * validation carve too: with 2-4 events per target user, holding one out costs more than
 * stopping early gains (Amazon Cloth, BENCHMARKS.md). The rows are solved on `threads` threads
 * (default: the machine's cores); the factors are bit-identical for any count. With
 * `popularityWeight` β > 0 the item biases are set to β·log(1 + n_i) from the fit's own events
 * first (`setPopularityBias`), so validation during the sweeps scores the model as it will serve.
 */
export const implicitAlsObjective: Objective = {
  ...modelObjective('implicit-als'),
  trainsOnValidation: true,
  refitsOnValidation: false,
  fit: (model, data, options) => {
    setPopularityBias(model, data);
    return fitImplicitAls(model, data, {
      epochs: options.epochs,
      threads: options.threads ?? availableParallelism(),
      signal: options.signal,
      onStep: options.onStep,
      onEpoch: options.onEpoch,
      validate: options.validate,
      earlyStopping: options.earlyStopping,
    });
  },
};
