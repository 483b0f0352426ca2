/**
 * Annotations through which users ask a VirtualMachine's node agent for power changes
 * (`shoalctl start|stop|restart`); the agent reads them, the CLI writes them.
 */
/** runStrategy Manual: `Running` or `Stopped`. */
export const REQUESTED_STATE_ANNOTATION = 'shoal.dev/requested-state';
/** runStrategy Manual: a start request's time; an exited guest boots again when it is newer than its last boot. */
export const START_REQUESTED_ANNOTATION = 'shoal.dev/start-requested-at';
/** The strategy `stop` replaced by Halted, which `start` puts back. */
export const PREVIOUS_RUN_STRATEGY_ANNOTATION = 'shoal.dev/previous-run-strategy';
/** A restart request's time; the agent restarts the VM once when it is newer than the running boot. */
export const RESTART_REQUESTED_ANNOTATION = 'shoal.dev/restart-requested-at';
