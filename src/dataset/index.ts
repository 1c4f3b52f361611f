/** Dataset stage: reading a domain's log into typed arrays, splits, histories, seeded randomness. */
export type { Dataset, Interactions, ItemTokens, Split, UserHistories, Vocabulary } from './dataset.js';
export { readDataset, type ReadDatasetOptions } from './read-dataset.js';
export {
  heldOutSplit,
  leaveOneOutSplit,
  temporalSplit,
  timeCutSplit,
  validationFromTrain,
  type HeldOutPair,
  type HeldOutSplit,
} from './splits.js';
export { readHeldOutFile, type HeldOutFileOptions } from './held-out-file.js';
export { buildHistories, historyOf } from './user-histories.js';
export { countPerUser, emptyInteractions, interactionCount, InteractionsBuilder, selectInteractions } from './interactions.js';
export { createRng, shuffleInPlace, type Rng } from './random.js';
