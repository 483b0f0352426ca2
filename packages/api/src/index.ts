export * from './objects.js';
export * from './status.js';
export * from './schemas.js';
export * from './kinds.js';
export * from './validation.js';
export * from './selectors.js';
export * from './json-path.js';
