/**
 * What must not be left behind, checked once the cluster has converged and again after every VM
 * was deleted at the end:
 *
 *   QEMU processes   each belongs to a VM that exists, is not Halted, and is bound to the node
 *                    whose data dir holds its run dir
 *   supervisors      each belongs to a VM that exists and is bound to its node (the per-VM
 *                    dead man's switch of vm-supervisor.sh)
 *   run dirs         each <data-dir>/vms/<uid> (console log, QMP socket, pid files, disk
 *                    overlays) belongs to a VM that exists and is bound to that node
 *   taps             none in any host's namespace (VMs use user-mode networking today; a tap
 *                    there would be one somebody forgot)
 */
import { readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { VirtualMachine } from '@shoal/api';
import { tapsInHost, type Topology } from './topology.js';
import type { VmTruth } from './vm-truth.js';

export interface Leak {
  kind: 'qemu' | 'supervisor' | 'run-dir' | 'tap';
  node: string | undefined;
  what: string;
  why: string;
}

export async function findLeaks(vms: readonly VirtualMachine[], truth: VmTruth, dataDirs: ReadonlyMap<string, string>, topology: Topology): Promise<Leak[]> {
  const byUid = new Map(vms.map((vm) => [vm.metadata.uid!, vm]));
  const leaks: Leak[] = [];
  /** Why `uid` has nothing to do on `node`, or undefined when it may be there. */
  const misplaced = (uid: string, node: string | undefined, mayBeHalted: boolean): string | undefined => {
    const vm = byUid.get(uid);
    if (!vm) return 'its VM is gone';
    if (vm.spec.nodeName !== node) return `its VM ${vm.metadata.name} is bound to ${vm.spec.nodeName ?? 'no node'}`;
    if (!mayBeHalted && vm.spec.runStrategy === 'Halted') return `its VM ${vm.metadata.name} is Halted`;
    return undefined;
  };
  for (const q of truth.qemus) {
    const why = misplaced(q.uid, q.node, false);
    if (why) leaks.push({ kind: 'qemu', node: q.node, what: `QEMU pid ${q.pid} of ${q.uid}`, why });
  }
  for (const s of truth.supervisors) {
    const uid = basename(s.runDir);
    const why = misplaced(uid, s.node, true);
    if (why) leaks.push({ kind: 'supervisor', node: s.node, what: `supervisor pid ${s.pid} of ${uid}`, why });
  }
  for (const [node, dir] of dataDirs) {
    for (const uid of await readdir(join(dir, 'vms')).catch(() => [] as string[])) {
      const why = misplaced(uid, node, true);
      if (why) leaks.push({ kind: 'run-dir', node, what: join(dir, 'vms', uid), why });
    }
  }
  for (const host of topology.hosts)
    for (const tap of await tapsInHost(host)) leaks.push({ kind: 'tap', node: host.nodeName, what: tap, why: 'no VM uses a tap' });
  return leaks;
}
