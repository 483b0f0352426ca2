/**
 * What `start`, `stop` and `restart` write, as a pure function of the VM they read: shoalctl and
 * the web console send the same patch. The agent carries the request out; the clients only
 * state it on the object:
 *
 * - runStrategy Manual: the annotation `shoal.dev/requested-state` (Running or Stopped).
 * - any other strategy: stop sets runStrategy Halted and remembers the strategy it replaced in
 *   `shoal.dev/previous-run-strategy`; start puts that strategy back (Always when there is none)
 *   and drops the annotation.
 * - restart: `shoal.dev/restart-requested-at` = now; the agent restarts the VM once when that
 *   time is later than the running instance's start.
 *
 * Every patch carries the resourceVersion it was computed from, so a concurrent change makes
 * it fail with 409 and it is computed again from the new object (shoalctl's vm/power-state.ts,
 * the console's actions/vm-actions.ts). No node modules here: the console's bundle imports it.
 */
import type { RunStrategy, VirtualMachine } from './model/generated.js';
import { PREVIOUS_RUN_STRATEGY_ANNOTATION, REQUESTED_STATE_ANNOTATION, RESTART_REQUESTED_ANNOTATION, START_REQUESTED_ANNOTATION } from './vm-annotations.js';

export type PowerAction = 'start' | 'stop' | 'restart';

const RESTORABLE: readonly string[] = ['Always', 'RerunOnFailure', 'Manual'];

export type PowerPlan =
  /** Send this JSON merge patch, then say `done`. */
  | { patch: PowerPatch; done: string }
  /** Nothing to change; say so. */
  | { unchanged: string };

export interface PowerPatch {
  metadata: { resourceVersion: string; annotations?: Record<string, string | null> };
  spec?: { runStrategy: RunStrategy };
}

/** The request could not mean anything for this VM (restart of a stopped VM). */
export class PowerRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PowerRequestError';
  }
}

export function planPower(action: PowerAction, vm: VirtualMachine, now: Date): PowerPlan {
  const strategy = vm.spec.runStrategy;
  const annotations = vm.metadata.annotations ?? {};
  const resourceVersion = vm.metadata.resourceVersion;
  if (!resourceVersion) throw new TypeError(`virtualmachine ${vm.metadata.name} has no resourceVersion`);
  const patch = (annotationsPatch: Record<string, string | null>, runStrategy?: RunStrategy): PowerPatch => ({
    metadata: { resourceVersion, annotations: annotationsPatch },
    ...(runStrategy ? { spec: { runStrategy } } : {}),
  });

  switch (action) {
    case 'stop':
      if (strategy === 'Manual') return { patch: patch({ [REQUESTED_STATE_ANNOTATION]: 'Stopped' }), done: 'stopped' };
      if (strategy === 'Halted') return { unchanged: 'already stopped' };
      return { patch: patch({ [PREVIOUS_RUN_STRATEGY_ANNOTATION]: strategy }, 'Halted'), done: 'stopped' };
    case 'start': {
      // The time makes a second start after the guest exited a new request, not a repeat of the old one.
      if (strategy === 'Manual')
        return { patch: patch({ [REQUESTED_STATE_ANNOTATION]: 'Running', [START_REQUESTED_ANNOTATION]: now.toISOString() }), done: 'started' };
      if (strategy !== 'Halted') return { unchanged: 'already started' };
      const previous = annotations[PREVIOUS_RUN_STRATEGY_ANNOTATION];
      const restored = (previous && RESTORABLE.includes(previous) ? previous : 'Always') as RunStrategy;
      // Back to Manual means nothing runs until asked to, and start is that request.
      const extra: Record<string, string> =
        restored === 'Manual' ? { [REQUESTED_STATE_ANNOTATION]: 'Running', [START_REQUESTED_ANNOTATION]: now.toISOString() } : {};
      return { patch: patch({ [PREVIOUS_RUN_STRATEGY_ANNOTATION]: null, ...extra }, restored), done: 'started' };
    }
    case 'restart': {
      // The agent compares the time with the running instance's start; for a stopped VM it would
      // bring it up once, behind the back of its runStrategy. Starting is a separate, explicit request.
      const stopped = strategy === 'Halted' || (strategy === 'Manual' && annotations[REQUESTED_STATE_ANNOTATION] !== 'Running');
      if (stopped)
        throw new PowerRequestError(
          `virtualmachine ${vm.metadata.name} is stopped (runStrategy ${strategy}); use "shoalctl start vm ${vm.metadata.name}" to start it`,
        );
      return { patch: patch({ [RESTART_REQUESTED_ANNOTATION]: now.toISOString() }), done: 'restart requested' };
    }
  }
}
