/**
 * What a two-tower model is trained for (see `TwoTowerConfig.objective`). Its own module so
 * that job validation and the API can name objectives without loading TF.js.
 */
export const TRAINING_OBJECTIVES = ['softmax', 'implicit-als', 'hybrid'] as const;
export type TrainingObjective = (typeof TRAINING_OBJECTIVES)[number];
