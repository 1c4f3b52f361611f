export * from './api-key-repository.js';
export * from './roles.js';
