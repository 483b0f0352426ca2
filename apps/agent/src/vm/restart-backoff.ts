/**
 * CrashLoopBackOff, as the kubelet does it. A VM the agent restarts because its guest exited
 * (runStrategy Always, or RerunOnFailure after a failure) waits before each restart:
 * base × 2^(n-1), capped, n being the exits in a row — 10 s, 20 s, 40 s … 5 min by default. A
 * run that lasted `resetAfterMs` (10 min) ends the loop: its exit waits the base again.
 *
 * Not every restart backs off: a user's restart request is not the guest's doing, and neither
 * is a guest stopped by fencing (its node lost the control plane; the agent restarts it once
 * it may act again, which the lease already paces). A guest the agent stopped on request (the
 * user's stop, then start) is not restarted at all: it is started (lifecycle.ts stoppedOnRequest).
 *
 * Pure: the policy, the step an exit leads to, and the words status and Events use. The step
 * is kept on the node (restart-backoff-store.ts says why not in status).
 */
import { timestamp } from '@shoal/api';
import { FENCED_REASON, type InstanceState } from '../runtime/driver.js';

export interface RestartBackoffPolicy {
  /** The wait before the restart after the first exit of a loop. */
  baseMs: number;
  /** The longest wait, however long the loop. */
  maxMs: number;
  /** A run that lasted this long ends the loop. */
  resetAfterMs: number;
}

/** The kubelet's: 10 s doubling up to 5 min, reset by a run of 10 min. */
export const KUBELET_RESTART_BACKOFF: RestartBackoffPolicy = { baseMs: 10_000, maxMs: 300_000, resetAfterMs: 600_000 };

/** The reason a VM's status and Ready condition give while it waits to be restarted. */
export const CRASH_LOOP_BACK_OFF_REASON = 'CrashLoopBackOff';
/** The reason of the Warning Event said once per step. */
export const BACK_OFF_EVENT_REASON = 'BackOff';

/** One step of a crash loop: the exit of one run, and when the restart after it may come. */
export interface RestartBackoff {
  /**
   * The VM's generation: a changed spec (a new command, a stop and a start) begins a new loop,
   * as a changed container does for the kubelet.
   */
  generation: number;
  /** The run whose exit this step follows (its instance's startedAt): an exit counts once, however often it is looked at. */
  runStartedAt: string;
  /** Exits in a row, this one included. */
  exits: number;
  delayMs: number;
  /** RFC 3339, to the second, rounded up: the restart never comes before the time status shows. */
  nextRestartAt: string;
}

/** Whether the restart after this exit backs off at all (see the header). */
export function backsOff(exit: InstanceState['exit']): boolean {
  return !!exit && exit.reason !== FENCED_REASON;
}

/** base × 2^(exits-1), capped. */
export function backoffDelayMs(policy: RestartBackoffPolicy, exits: number): number {
  return Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, exits - 1));
}

/**
 * The step the exit of `instance` (exited) leads to: the one taken already for this very run
 * and generation, else the next after `previous` — or the first, when there is none, it was
 * for another generation, or this run lasted long enough to end the loop. The wait counts from
 * the exit, as the kubelet's counts from a container's finish.
 */
export function nextBackoff(
  policy: RestartBackoffPolicy,
  previous: RestartBackoff | undefined,
  generation: number,
  instance: InstanceState,
  now = Date.now(),
): RestartBackoff {
  if (previous && previous.generation === generation && previous.runStartedAt === instance.startedAt) return previous;
  const exitedAt = Date.parse(instance.exit?.at ?? '');
  const exitAt = Number.isNaN(exitedAt) ? now : exitedAt;
  const ran = exitAt - Date.parse(instance.startedAt);
  const loopGoesOn = !!previous && previous.generation === generation && !(ran >= policy.resetAfterMs);
  const exits = loopGoesOn ? previous.exits + 1 : 1;
  const delayMs = backoffDelayMs(policy, exits);
  return { generation, runStartedAt: instance.startedAt, exits, delayMs, nextRestartAt: timestamp(Math.ceil((exitAt + delayMs) / 1000) * 1000) };
}

/** A wait as Go prints a duration, as the kubelet's messages do: 10s, 2m40s, 5m0s. */
export function formatDelay(ms: number): string {
  const seconds = Math.round(ms) / 1000;
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes}m${Math.round((seconds - minutes * 60) * 1000) / 1000}s`;
}

/** What status and the BackOff Event say while the VM waits: the wait, the restarts so far, the next attempt, why it exited. */
export function backoffMessage(backoff: RestartBackoff, restarts: number, exitMessage: string): string {
  const times = restarts === 1 ? 'once' : `${restarts} times`;
  return (
    `back-off ${formatDelay(backoff.delayMs)} restarting the VM after its guest exited (${exitMessage}): ` +
    `restarted ${times} so far, next attempt at ${backoff.nextRestartAt}`
  );
}

/** Why these flag values (seconds) cannot be used, naming the flag, or undefined when they can. */
export function restartBackoffFlagsError(s: { base: number; max: number; reset: number }): string | undefined {
  if (!(Number.isFinite(s.base) && s.base > 0)) return `--crash-loop-backoff-base ${s.base}: must be a number of seconds greater than 0`;
  if (!(Number.isFinite(s.max) && s.max >= s.base))
    return `--crash-loop-backoff-max ${s.max}: must be a number of seconds no smaller than --crash-loop-backoff-base (${s.base})`;
  if (!(Number.isFinite(s.reset) && s.reset > 0)) return `--crash-loop-backoff-reset ${s.reset}: must be a number of seconds greater than 0`;
  return undefined;
}
