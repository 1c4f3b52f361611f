export * from './early-stopping.js';
export * from './example-mixture.js';
export * from './learning-rate-schedule.js';
export * from './train.js';
export * from './objectives/index.js';
export * from './popularity-bias.js';
