export * from './search-budget.js';
export * from './search-space.js';
export * from './successive-halving.js';
