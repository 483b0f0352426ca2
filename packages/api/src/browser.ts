/**
 * The part of this package a browser can load: the web console's bundle (apps/console) imports
 * `@shoal/api/browser`, never the package's index, which reads schemas/ from disk and needs
 * node: modules. Every module exported here imports nothing but types and other modules of this
 * list; the console's build (esbuild, platform browser) fails when one stops doing so.
 */
export type * from './model/generated.js';
export * from './objects.js';
export * from './labels.js';
export * from './conditions.js';
export * from './vm-annotations.js';
export * from './vm-power-plan.js';
export * from './migrations.js';
export * from './events.js';
export * from './human-duration.js';
export * from './usage-metrics.js';
