/**
 * The names of what a node makes for VM networks, each derived from what it serves so every
 * agent (and the same agent after a restart) arrives at the same one, and short enough for
 * Linux (15 characters). The prefixes say what the agent owns: anything of them that no VM or
 * Network needs any more is removed.
 */
import { createHash } from 'node:crypto';

export const BRIDGE_PREFIX = 'shb';
export const VXLAN_PREFIX = 'shx';
export const TAP_PREFIX = 'sht';

const digest = (s: string, chars: number) => createHash('sha256').update(s).digest('hex').slice(0, chars);

/** A Network's key: `namespace/name`. */
export const networkKey = (namespace: string, name: string) => `${namespace}/${name}`;

/** The Network's bridge on every node (holds its gateway address). */
export const bridgeName = (key: string) => `${BRIDGE_PREFIX}${digest(key, 10)}`;

/** The Network's VXLAN device on every node (its segment to the other nodes). */
export const vxlanName = (key: string) => `${VXLAN_PREFIX}${digest(key, 10)}`;

/** The tap of a VM's NIC (its index in spec.networks). */
export const tapName = (vmUid: string, index: number) => `${TAP_PREFIX}${digest(vmUid, 10)}${index.toString(16)}`;

/**
 * The MAC of the Network's gateway, the same on every node (an anycast gateway): a guest that
 * moves finds its gateway at the address it knows. Locally administered, unicast.
 */
export function gatewayMac(key: string): string {
  const h = digest(`gateway:${key}`, 8);
  return `02:5e:${h.match(/../g)!.join(':')}`;
}
