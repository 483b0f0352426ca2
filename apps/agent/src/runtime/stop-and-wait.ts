/**
 * Stops every guest of a runtime and waits until they have exited: for the agent's own exit
 * with --stop-vms-on-exit, when no reconcile runs any more and waiting is the point. It drives
 * each stop as the reconciler does — requestStop, then again every few seconds (a guest that was
 * not listening yet is asked again) until the call past the deadline kills it — and stops
 * waiting a little after the deadline, whatever is left.
 */
import { STOP_ASK_AGAIN_MS, type RuntimeDriver } from './driver.js';
/** How long a killed guest may take to be seen gone before this gives up waiting. */
const AFTER_KILL_MS = 10_000;

export async function stopAndWait(driver: RuntimeDriver, graceMs: number): Promise<void> {
  const giveUpAt = Date.now() + Math.max(0, graceMs) + AFTER_KILL_MS;
  const live = () => driver.list().filter((i) => i.phase !== 'exited');
  while (live().length && Date.now() < giveUpAt) {
    await Promise.all(live().map((i) => driver.requestStop(i.uid, graceMs)));
    const left = live();
    if (!left.length) return;
    const untilDeadline = Math.min(...left.map((i) => (i.stopDeadline ? Date.parse(i.stopDeadline) - Date.now() : STOP_ASK_AGAIN_MS)));
    await nextChange(driver, Math.min(STOP_ASK_AGAIN_MS, Math.max(100, untilDeadline)));
  }
}

/** Resolves at the driver's next 'change', or after `ms`. */
function nextChange(driver: RuntimeDriver, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      driver.off('change', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    driver.on('change', done);
  });
}
