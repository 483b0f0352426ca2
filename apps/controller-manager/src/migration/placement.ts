/**
 * Where a migrating VM may go: the scheduler's own filters and scores (packages/scheduler's
 * default profile), judged as if the VM had already left its source node. Pure: the reconcile
 * hands it what its informers hold.
 *
 * The cluster is built afresh for each decision (a ClusterState from the caches) rather than
 * kept incrementally as the scheduler keeps its own: a Migration is scheduled once, and a fresh
 * state is what lets the decision differ from the scheduler's picture in the two ways a move
 * needs —
 *  - the VM itself holds room nowhere, and its labels count in no domain: after the switchover
 *    it is no longer on the source, so neither its room there nor its own anti-affinity with
 *    itself may keep it off a target (the source is never a candidate anyway);
 *  - VMs that other Migrations are moving already hold room on their targets, so two moves
 *    decided a moment apart do not both count on the same free room.
 *
 * Disks: a Volume in a local pool lives on one node, and the VolumePlacement filter keeps a VM
 * there. A migration copies the VM's local disks to the target with its memory (the agents
 * mirror them), so in this decision its local Volumes are not placed yet (their status.node is
 * left out): any node their pool reaches may take them. Shared-pool Volumes are judged as they
 * are: the target must reach them.
 */
import { objectKey, poolNameFor, resolvePool, vmDisks, type Node, type PlacementPolicy, type StoragePool, type VirtualMachine, type Volume } from '@shoal/api';
import { ClusterState, CycleState, defaultProfile, firstFailure, schedule, unschedulableMessage, type Profile, type StorageLookup } from '@shoal/scheduler';

/** The reasons a Migration fails at Scheduling. */
export const TARGET_NOT_ELIGIBLE = 'TargetNotEligible';
export const NO_TARGET_NODE = 'NoTargetNode';

export type Placement =
  { ok: true; nodeName: string; message: string } | { ok: false; reason: typeof TARGET_NOT_ELIGIBLE | typeof NO_TARGET_NODE; message: string };

/** A VM another Migration is moving: it holds room on that Migration's target until the move is over. */
export interface Incoming {
  vm: VirtualMachine;
  nodeName: string;
  /** The Migration moving it (names its placeholder). */
  migration: string;
}

export interface PlacementInput {
  /** The VM to move, bound to `sourceNode`. */
  vm: VirtualMachine;
  sourceNode: string;
  /** spec.targetNode, when the user chose. */
  requested?: string;
  nodes: Iterable<Node>;
  /** Every VM the cache holds (the one to move among them or not). */
  vms: Iterable<VirtualMachine>;
  policies: Iterable<PlacementPolicy>;
  storage: StorageLookup;
  incoming?: Iterable<Incoming>;
  profile?: Profile;
}

/** Why every node was refused, as one of the counted reasons of the scheduler's message. */
const IS_SOURCE = "node(s) were the VM's current node";

export function chooseTarget(input: PlacementInput): Placement {
  const { vm, sourceNode, requested } = input;
  const profile = input.profile ?? defaultProfile;
  const state = migrationState(input);
  const vmName = vm.metadata.name;

  if (requested !== undefined) {
    if (requested === sourceNode)
      return { ok: false, reason: TARGET_NOT_ELIGIBLE, message: `node ${requested} is where VirtualMachine ${vmName} runs already` };
    const info = state.nodeInfo(requested);
    if (!info) return { ok: false, reason: TARGET_NOT_ELIGIBLE, message: `node ${requested} does not exist` };
    const why = firstFailure(vm, info, profile.filters, new CycleState(state));
    if (why !== undefined) return { ok: false, reason: TARGET_NOT_ELIGIBLE, message: `node ${requested} cannot take VirtualMachine ${vmName}: ${why}` };
    return { ok: true, nodeName: requested, message: `node ${requested}, as asked` };
  }

  const all = state.nodeInfos();
  const candidates = all.filter((n) => n.name !== sourceNode);
  const decision = schedule(vm, state, profile, { nodes: candidates });
  if (decision.ok)
    return {
      ok: true,
      nodeName: decision.nodeName,
      message: `node ${decision.nodeName}, the best of ${decision.feasibleNodes} that can take it (of ${all.length} nodes)`,
    };
  const reasons = { ...decision.reasons };
  if (candidates.length < all.length) reasons[IS_SOURCE] = (reasons[IS_SOURCE] ?? 0) + 1;
  return { ok: false, reason: NO_TARGET_NODE, message: unschedulableMessage(all.length, reasons) };
}

/** The cluster as the decision sees it (see the header). */
export function migrationState(input: PlacementInput): ClusterState {
  const key = objectKey(input.vm.metadata);
  const vms: VirtualMachine[] = [];
  for (const v of input.vms) if (objectKey(v.metadata) !== key) vms.push(v);
  for (const { vm, nodeName, migration } of input.incoming ?? []) {
    if (objectKey(vm.metadata) === key) continue;
    // A placeholder under a name no VM can have ('@' is not allowed in names): the VM as it will be on its target.
    vms.push({ ...vm, metadata: { ...vm.metadata, name: `${vm.metadata.name}@${migration}` }, spec: { ...vm.spec, nodeName } });
  }
  const state = ClusterState.from(input.nodes, vms, input.policies);
  state.storage = withLocalDisksUnplaced(input.storage, input.vm);
  return state;
}

/** `storage` with the VM's Volumes in local pools not placed on any node yet (their copy goes with the VM). */
export function withLocalDisksUnplaced(storage: StorageLookup, vm: VirtualMachine): StorageLookup {
  const namespace = vm.metadata.namespace ?? '';
  const mine = new Set(vmDisks(vm).map((d) => d.volumeName));
  return {
    pool: (name) => storage.pool(name),
    pools: () => storage.pools(),
    volume(ns, name) {
      const volume = storage.volume(ns, name);
      if (!volume || ns !== namespace || !mine.has(name) || !volume.status?.node) return volume;
      if (poolOf(volume, storage)?.spec.type !== 'local') return volume;
      const { node: _, ...status } = volume.status;
      return { ...volume, status };
    },
  };
}

const poolOf = (volume: Volume, storage: StorageLookup): StoragePool | undefined =>
  resolvePool(poolNameFor(volume.spec, storage.pools()), (n) => storage.pool(n));

/**
 * GiB of the VM's disks kept in local pools: what is copied with its memory (the transfer's
 * deadline grows with it). A Volume not made yet counts by its template; one whose size is its
 * image's (no sizeGiB) counts as nothing, for want of a better number here.
 */
export function localDiskGiB(vm: VirtualMachine, storage: StorageLookup): number {
  const namespace = vm.metadata.namespace ?? '';
  let total = 0;
  for (const disk of vmDisks(vm)) {
    const spec = storage.volume(namespace, disk.volumeName)?.spec ?? disk.template;
    if (!spec) continue;
    const pool = resolvePool(poolNameFor(spec, storage.pools()), (n) => storage.pool(n));
    if (pool?.spec.type === 'local') total += spec.sizeGiB ?? 0;
  }
  return total;
}
