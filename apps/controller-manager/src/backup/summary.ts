/**
 * A Backup's status under way, from its DiskBackups (pure): per VM, its phase; per volume, what
 * its agent reported; the bytes together; and, once every DiskBackup is done, the final phase.
 * A DiskBackup whose node has not been Ready for NODE_LOST_AFTER_MS cannot finish (its agent is
 * gone): it counts as failed. A shorter absence is an agent restarting, which reports on its
 * own what became of the copy.
 */
import {
  diskBackupFinished,
  findCondition,
  type BackupItemError,
  type BackupPhase,
  type BackupStatus,
  type BackupVmStatus,
  type DiskBackup,
  type Node,
} from '@shoal/api';

/** How long a node may be not Ready before the copies assigned to it count as failed. */
export const NODE_LOST_AFTER_MS = 60_000;

export interface Summary {
  status: Pick<BackupStatus, 'vms' | 'volumes' | 'totalBytes' | 'errors'>;
  /** Set once nothing is under way any more. */
  phase?: BackupPhase;
  /** When to look again: a node not Ready now may count as lost then. */
  recheckAfterMs?: number;
}

/** `planErrors`: the items found not backed up when it started (status.errors then). */
export function summarize(diskBackups: DiskBackup[], planErrors: BackupItemError[], node: (name: string) => Node | undefined, now: number): Summary {
  const vms: BackupVmStatus[] = [];
  const errors = [...planErrors];
  let completed = 0;
  let done = 0;
  let recheckAfterMs: number | undefined;
  for (const d of [...diskBackups].sort((a, b) => a.spec.vmName.localeCompare(b.spec.vmName))) {
    const st = d.status;
    const lostIn = diskBackupFinished(d) ? undefined : nodeLostIn(node(d.spec.node), now);
    const nodeGone = lostIn !== undefined && lostIn <= 0;
    if (lostIn !== undefined && lostIn > 0) recheckAfterMs = Math.min(recheckAfterMs ?? lostIn, lostIn);
    const phase: BackupVmStatus['phase'] = nodeGone ? 'Failed' : (st?.phase ?? 'Pending');
    vms.push({ name: d.spec.vmName, uid: d.spec.vmUID, node: d.spec.node, phase, ...(st?.running !== undefined ? { running: st.running } : {}) });
    if (phase === 'Completed') completed++;
    if (phase === 'Completed' || phase === 'Failed') done++;
    if (nodeGone)
      errors.push({
        item: `virtualmachine/${d.spec.vmName}`,
        reason: 'NodeNotReady',
        message: `node ${d.spec.node} is not Ready: its agent cannot copy the disks`,
      });
    else if (phase === 'Failed')
      errors.push({ item: `virtualmachine/${d.spec.vmName}`, reason: st?.reason ?? 'Failed', message: st?.message ?? 'the disks were not copied' });
  }
  const volumes = diskBackups.flatMap((d) => (d.status?.phase === 'Completed' ? (d.status.volumes ?? []) : []));
  const status = { vms, volumes, totalBytes: volumes.reduce((n, v) => n + (v.bytes ?? 0), 0), errors };
  if (done < diskBackups.length) return { status, recheckAfterMs };
  const phase: BackupPhase = errors.length === 0 ? 'Completed' : completed > 0 ? 'PartiallyFailed' : 'Failed';
  return { status, phase };
}

/** Milliseconds until a node not Ready counts as lost (≤ 0: it does); undefined while it is Ready. */
function nodeLostIn(n: Node | undefined, now: number): number | undefined {
  if (!n) return 0;
  const ready = findCondition(n.status?.conditions, 'Ready');
  if (ready?.status === 'True') return undefined;
  const since = Date.parse(ready?.lastTransitionTime ?? '');
  return Number.isNaN(since) ? 0 : since + NODE_LOST_AFTER_MS - now;
}
