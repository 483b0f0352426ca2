/**
 * Changing the fence timeout while VMs run (a reload of the agent's config file) without the
 * health controller ever counting on a shorter wait than the node keeps. Two sides know it:
 *
 *   the node        enforces it: the agent's FenceMonitor (its FenceClock) and every VM's
 *                   supervisor, which reads the fence file at each look (vm-supervisor.sh)
 *   the control     is told it through the Node's status.fencing, and moves a silent node's VMs
 *   plane           after lease expiry + that timeout (health controller)
 *
 * Safe means what the node enforces is never longer than what it published. So a shorter
 * timeout is enforced first and published after; a longer one is published first and enforced
 * only once the apiserver has it. A health controller whose Node cache predates the longer one
 * cannot act on the shorter: it marks the node fenced — and moves its VMs in the same pass,
 * after that write — with a write pinned to the Node's resourceVersion it judged, which the
 * publication moved on, so the write fails until its cache shows the longer timeout. (Had it
 * marked the node fenced before the publication, the VMs had stopped under the shorter
 * timeout already.) A shorter timeout whose publication fails is taken back (enforcing the
 * published, longer one again is safe), so what is in force stays what the Node says.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';

export interface FenceTimeoutSides {
  /** Puts the timeout in force on the node: the fence file, the agent's clock. */
  enforce(seconds: number): Promise<void>;
  /** Tells the control plane (the Node's status.fencing); resolves once the apiserver has it. */
  publish(seconds: number): Promise<void>;
}

export async function changeFenceTimeout(from: number, to: number, sides: FenceTimeoutSides): Promise<void> {
  if (to === from) return;
  if (to > from) {
    await sides.publish(to);
    await sides.enforce(to);
    return;
  }
  await sides.enforce(to);
  try {
    await sides.publish(to);
  } catch (err) {
    await sides.enforce(from).catch(() => undefined);
    throw err;
  }
}

/** The fence file's timeout (whole seconds), or undefined when there is none or it cannot be read. */
export async function readFenceTimeoutFile(path: string): Promise<number | undefined> {
  const text = await readFile(path, 'utf8').catch(() => '');
  const seconds = Number(text.trim());
  return /^[1-9][0-9]*$/.test(text.trim()) && Number.isSafeInteger(seconds) ? seconds : undefined;
}

/** Replaces the fence file at once (write, then rename): a supervisor never reads half of it. */
export async function writeFenceTimeoutFile(path: string, seconds: number): Promise<void> {
  await writeFile(`${path}.tmp`, `${seconds}\n`);
  await rename(`${path}.tmp`, path);
}
