export * from './activation.js';
export * from './artifact-repository.js';
export * from './model-repository.js';
export * from './model-weights.js';
