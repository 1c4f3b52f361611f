import { modelObjective } from '../../model/objective.js';
import type { TrainingObjective } from '../../model/training-objective.js';
import { hybridObjective } from './hybrid.objective.js';
import { implicitAlsObjective } from './implicit-als.objective.js';
import type { Objective } from './objective.js';
import { softmaxObjective } from './softmax.objective.js';

export type { FitOptions, Objective } from './objective.js';
export { warmStartNewRows, warmStartRows } from './als-warm-start.js';

/** Every training objective, by name: the one place a name becomes an objective. */
const OBJECTIVES: Record<TrainingObjective, Objective> = {
  softmax: softmaxObjective,
  'implicit-als': implicitAlsObjective,
  hybrid: hybridObjective,
};

/** The objective of this name (BAD_INPUT naming the known ones otherwise). */
export function objectiveNamed(name: unknown): Objective {
  return OBJECTIVES[modelObjective(name).name];
}
