export { ControllerManager } from './manager.js';
export type { ManagerOptions } from './manager.js';
export { CONTROLLERS, CONTROLLER_NAMES, selectControllers } from './controllers.js';
export type { ControllerDefinition, ControllerEnv } from './controllers.js';
export { schedulerController, SCHEDULER_NAME, SCHEDULER_COMPONENT } from './scheduler/controller.js';
export { reconcile as reconcileScheduling } from './scheduler/reconcile.js';
export type { SchedulerContext } from './scheduler/reconcile.js';
