/**
 * The scheduler's picture of the cluster, kept up to date change by change instead of rebuilt
 * per decision (kube-scheduler's cache + snapshot in one): each node with the room its
 * PlacementPolicy allows and the VMs holding room on it, an index of those VMs by label for the
 * affinity and spread plugins, the required anti-affinity terms of placed VMs (so a newcomer
 * respects them too), and the VMs nominated to a node by the preemptor.
 *
 * A VM holds room on a node when it is bound there (and holdsResources says so), or while it is
 * assumed there: placed by this scheduler, the bind not yet seen (see AssumeCache). Decisions
 * read this state synchronously, so a decision and its assumption happen with nothing between.
 */
import { matchesSelector, objectKey, selectorFromObject, type Selector } from '@shoal/api';
import { AssumeCache, type Assumption } from './assume-cache.js';
import { DEFAULT_POLICY, policyFor, schedulableRoom, type EffectivePolicy } from './placement-policy.js';
import { addResources, allocatableOf, holdsResources, NO_RESOURCES, vmRequest } from './resources.js';
import { domainOf } from './topology.js';
import type { Node, PlacementPolicy, StoragePool, Taint, VirtualMachine, VmAffinityTerm, Volume } from '@shoal/api';
import type { Resources } from './resources.js';

/** A VM holding room on a node. */
export interface PlacedVm {
  key: string;
  vm: VirtualMachine;
  nodeName: string;
  request: Resources;
}

export interface NodeInfo {
  name: string;
  node: Node;
  /** status.allocatable, else status.capacity, else nothing. */
  allocatable: Resources;
  /** The PlacementPolicy governing the node (or the built-in default). */
  policy: EffectivePolicy;
  /** What the scheduler may place here: allocatable × the policy's overcommit. */
  room: Resources;
  /** The sum of what the VMs holding room here asked for. */
  requested: Resources;
  /** Those VMs, by key. */
  vms: ReadonlyMap<string, PlacedVm>;
  /**
   * From the node, read once when it changes rather than at every node a decision walks (where
   * following the node's objects costs more than the checks themselves): its Ready condition is
   * True, it is cordoned, its taints.
   */
  ready: boolean;
  unschedulable: boolean;
  taints: readonly Taint[];
}

/** A required anti-affinity term of a placed VM: no VM it selects may join its domain. */
export interface PlacedAntiAffinity {
  owner: PlacedVm;
  term: VmAffinityTerm;
  selector: Selector;
}

interface NodeSlot {
  node?: Node;
  info: NodeInfo & { vms: Map<string, PlacedVm> };
}

/**
 * The Volumes and StoragePools a decision reads (the VolumePlacement filter), looked up as they
 * are now: a controller points it at its informers' caches.
 */
export interface StorageLookup {
  volume(namespace: string, name: string): Volume | undefined;
  pool(name: string): StoragePool | undefined;
  pools(): Iterable<StoragePool>;
}

/** No volumes, no pools: a VM with volumes fits nowhere (the state of a scheduler that reads none). */
export const NO_STORAGE: StorageLookup = { volume: () => undefined, pool: () => undefined, pools: () => [] };

export const priorityOf = (vm: VirtualMachine): number => vm.spec.priority ?? 0;

const ANY_LABEL = '*';
const labelPair = (key: string, value: string) => `${key}=${value}`;

export class ClusterState {
  readonly assumed = new AssumeCache();
  storage: StorageLookup = NO_STORAGE;
  private readonly slots = new Map<string, NodeSlot>();
  private sorted?: NodeInfo[];
  private policies = new Map<string, PlacementPolicy>();
  /** Every VM seen, by key: an assumption made or forgotten needs the VM to place it again. */
  private readonly vms = new Map<string, VirtualMachine>();
  private readonly placed = new Map<string, PlacedVm>();
  /** namespace → `key=value` → keys of placed VMs carrying that label. */
  private readonly byLabel = new Map<string, Map<string, Set<string>>>();
  /** namespace → `key=value` of one matchLabels pair (or `*`) → required anti-affinity terms of placed VMs. */
  private readonly antiTerms = new Map<string, Map<string, PlacedAntiAffinity[]>>();
  /** node → unbound VMs the preemptor nominated to it. */
  private readonly nominated = new Map<string, Map<string, VirtualMachine>>();
  private readonly nominationOf = new Map<string, string>();
  /** topologyKey → domain → names of registered nodes in it. */
  private readonly domainCache = new Map<string, Map<string, string[]>>();

  static from(nodes: Iterable<Node>, vms: Iterable<VirtualMachine>, policies: Iterable<PlacementPolicy> = []): ClusterState {
    const s = new ClusterState();
    s.setPolicies(policies);
    for (const n of nodes) s.upsertNode(n);
    for (const vm of vms) s.upsertVm(vm);
    return s;
  }

  // ── nodes and policies ──────────────────────────────────────────────

  upsertNode(node: Node): void {
    const name = node.metadata.name;
    if (!name) return;
    const slot = this.slot(name);
    const isNew = !slot.node;
    const labelsChanged = isNew || JSON.stringify(slot.node!.metadata.labels ?? {}) !== JSON.stringify(node.metadata.labels ?? {});
    slot.node = node;
    slot.info.node = node;
    slot.info.allocatable = allocatableOf(node);
    slot.info.policy = policyFor(node, [...this.policies.values()]);
    slot.info.room = schedulableRoom(slot.info.allocatable, slot.info.policy);
    slot.info.ready = node.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
    slot.info.unschedulable = node.spec?.unschedulable === true;
    slot.info.taints = node.spec?.taints ?? [];
    if (isNew) this.sorted = undefined;
    if (labelsChanged) this.domainCache.clear();
  }

  removeNode(name: string): void {
    const slot = this.slots.get(name);
    if (!slot?.node) return;
    slot.node = undefined;
    if (slot.info.vms.size === 0) this.slots.delete(name);
    this.sorted = undefined;
    this.domainCache.clear();
  }

  setPolicies(policies: Iterable<PlacementPolicy>): void {
    this.policies = new Map([...policies].map((p) => [p.metadata.name!, p]));
    this.refreshPolicies();
  }

  upsertPolicy(policy: PlacementPolicy): void {
    this.policies.set(policy.metadata.name!, policy);
    this.refreshPolicies();
  }

  removePolicy(name: string): void {
    if (this.policies.delete(name)) this.refreshPolicies();
  }

  private refreshPolicies(): void {
    const all = [...this.policies.values()];
    for (const slot of this.slots.values()) {
      if (!slot.node) continue;
      slot.info.policy = policyFor(slot.node, all);
      slot.info.room = schedulableRoom(slot.info.allocatable, slot.info.policy);
    }
  }

  /** Registered nodes, sorted by name (the order ties are broken in). */
  nodeInfos(): readonly NodeInfo[] {
    this.sorted ??= [...this.slots.values()]
      .filter((s) => s.node)
      .map((s) => s.info)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return this.sorted;
  }

  nodeInfo(name: string): NodeInfo | undefined {
    const slot = this.slots.get(name);
    return slot?.node ? slot.info : undefined;
  }

  /** Domains of `topologyKey` among registered nodes, with the nodes in each. */
  domains(topologyKey: string): ReadonlyMap<string, string[]> {
    let d = this.domainCache.get(topologyKey);
    if (!d) {
      d = new Map();
      for (const info of this.nodeInfos()) {
        const domain = domainOf(info.node, topologyKey);
        if (domain === undefined) continue;
        const names = d.get(domain);
        if (names) names.push(info.name);
        else d.set(domain, [info.name]);
      }
      this.domainCache.set(topologyKey, d);
    }
    return d;
  }

  // ── VMs ─────────────────────────────────────────────────────────────

  upsertVm(vm: VirtualMachine): void {
    const key = objectKey(vm.metadata);
    this.vms.set(key, vm);
    this.place(key, vm);
    this.nominate(key, vm);
  }

  removeVm(key: string): void {
    this.vms.delete(key);
    this.assumed.forget(key);
    this.unplace(key);
    this.unnominate(key);
  }

  vm(key: string): VirtualMachine | undefined {
    return this.vms.get(key);
  }

  placement(key: string): PlacedVm | undefined {
    return this.placed.get(key);
  }

  /** Reserves the VM's room on `nodeName` until the bind shows (see AssumeCache). */
  assume(vm: VirtualMachine, nodeName: string): Assumption {
    const a = this.assumed.assume(vm, nodeName);
    this.place(a.key, vm);
    return a;
  }

  confirm(key: string): void {
    this.assumed.confirm(key);
  }

  forget(key: string): void {
    this.assumed.forget(key);
    this.replace(key);
  }

  /** AssumeCache.observe, keeping the room accounting in step. */
  observe(key: string, vm: VirtualMachine | undefined): boolean {
    const remains = this.assumed.observe(key, vm);
    if (!remains) this.replace(key);
    return remains;
  }

  private replace(key: string): void {
    const vm = this.vms.get(key);
    if (vm) this.place(key, vm);
    else this.unplace(key);
  }

  /** Where the VM holds room now: bound there, or assumed there while unbound. */
  private nodeHolding(vm: VirtualMachine): string | undefined {
    const nodeName = vm.spec.nodeName || this.assumed.nodeFor(vm);
    return nodeName && holdsResources(vm) ? nodeName : undefined;
  }

  private place(key: string, vm: VirtualMachine): void {
    const nodeName = this.nodeHolding(vm);
    const before = this.placed.get(key);
    if (before && before.nodeName === nodeName && before.vm === vm) return;
    if (before) this.unplace(key);
    if (!nodeName) return;
    const p: PlacedVm = { key, vm, nodeName, request: vmRequest(vm) };
    this.placed.set(key, p);
    const info = this.slot(nodeName).info;
    info.vms.set(key, p);
    info.requested = addResources(info.requested, p.request);
    this.indexLabels(p, +1);
    this.indexAntiAffinity(p, +1);
  }

  private unplace(key: string): void {
    const p = this.placed.get(key);
    if (!p) return;
    this.placed.delete(key);
    const slot = this.slots.get(p.nodeName)!;
    slot.info.vms.delete(key);
    slot.info.requested = { vcpus: slot.info.requested.vcpus - p.request.vcpus, memoryMiB: slot.info.requested.memoryMiB - p.request.memoryMiB };
    if (!slot.node && slot.info.vms.size === 0) this.slots.delete(p.nodeName);
    this.indexLabels(p, -1);
    this.indexAntiAffinity(p, -1);
  }

  private slot(name: string): NodeSlot {
    let slot = this.slots.get(name);
    if (!slot) {
      const info = {
        name,
        node: undefined as unknown as Node,
        allocatable: { ...NO_RESOURCES },
        policy: DEFAULT_POLICY,
        room: { ...NO_RESOURCES },
        requested: { ...NO_RESOURCES },
        vms: new Map<string, PlacedVm>(),
        ready: false,
        unschedulable: false,
        taints: [] as readonly Taint[],
      };
      slot = { info };
      this.slots.set(name, slot);
    }
    return slot;
  }

  private indexLabels(p: PlacedVm, delta: 1 | -1): void {
    const ns = p.vm.metadata.namespace ?? '';
    let byPair = this.byLabel.get(ns);
    if (!byPair) this.byLabel.set(ns, (byPair = new Map()));
    for (const [k, v] of Object.entries(p.vm.metadata.labels ?? {})) {
      const pair = labelPair(k, v);
      let keys = byPair.get(pair);
      if (delta > 0) {
        if (!keys) byPair.set(pair, (keys = new Set()));
        keys.add(p.key);
      } else if (keys) {
        keys.delete(p.key);
        if (keys.size === 0) byPair.delete(pair);
      }
    }
    let all = byPair.get(ANY_LABEL);
    if (!all) byPair.set(ANY_LABEL, (all = new Set()));
    if (delta > 0) all.add(p.key);
    else all.delete(p.key);
  }

  private indexAntiAffinity(p: PlacedVm, delta: 1 | -1): void {
    const terms = p.vm.spec.affinity?.vmAntiAffinity?.required;
    if (!terms?.length) return;
    const ns = p.vm.metadata.namespace ?? '';
    let byPair = this.antiTerms.get(ns);
    if (!byPair) this.antiTerms.set(ns, (byPair = new Map()));
    for (const term of terms) {
      const [first] = Object.entries(term.labelSelector.matchLabels ?? {});
      const bucket = first ? labelPair(first[0], first[1]) : ANY_LABEL;
      const list = byPair.get(bucket) ?? [];
      if (delta > 0) list.push({ owner: p, term, selector: selectorFromObject(term.labelSelector) });
      const kept = delta > 0 ? list : list.filter((t) => t.owner.key !== p.key);
      if (kept.length) byPair.set(bucket, kept);
      else byPair.delete(bucket);
    }
  }

  /** Placed VMs in `namespace` that `selector` matches (an empty selector matches all of them). */
  placedMatching(namespace: string | undefined, selector: Selector): PlacedVm[] {
    const byPair = this.byLabel.get(namespace ?? '');
    if (!byPair) return [];
    // Walk the smallest posting list an equality requirement gives; check the rest per VM.
    let candidates: Set<string> | undefined = byPair.get(ANY_LABEL);
    for (const r of selector) {
      if (r.op !== 'in') continue;
      let size = 0;
      for (const v of r.values) size += byPair.get(labelPair(r.key, v))?.size ?? 0;
      if (size === 0) return [];
      if (candidates && size >= candidates.size) continue;
      candidates = new Set();
      for (const v of r.values) for (const k of byPair.get(labelPair(r.key, v)) ?? []) candidates.add(k);
    }
    const out: PlacedVm[] = [];
    for (const k of candidates ?? []) {
      const p = this.placed.get(k)!;
      if (matchesSelector(selector, p.vm.metadata.labels)) out.push(p);
    }
    return out;
  }

  /** Required anti-affinity terms of placed VMs that select `vm` (in its namespace). */
  antiAffinityAgainst(vm: VirtualMachine): PlacedAntiAffinity[] {
    const byPair = this.antiTerms.get(vm.metadata.namespace ?? '');
    if (!byPair) return [];
    const labels = vm.metadata.labels ?? {};
    const key = objectKey(vm.metadata);
    const out: PlacedAntiAffinity[] = [];
    const consider = (list: PlacedAntiAffinity[] | undefined) => {
      for (const t of list ?? []) if (t.owner.key !== key && matchesSelector(t.selector, labels)) out.push(t);
    };
    consider(byPair.get(ANY_LABEL));
    for (const [k, v] of Object.entries(labels)) consider(byPair.get(labelPair(k, v)));
    return out;
  }

  // ── nominations (preemption) ────────────────────────────────────────

  private nominate(key: string, vm: VirtualMachine): void {
    const nodeName = !vm.spec.nodeName && !vm.metadata.deletionTimestamp ? vm.status?.nominatedNodeName : undefined;
    if (this.nominationOf.get(key) !== nodeName) this.unnominate(key);
    if (!nodeName) return;
    this.nominationOf.set(key, nodeName);
    let onNode = this.nominated.get(nodeName);
    if (!onNode) this.nominated.set(nodeName, (onNode = new Map()));
    onNode.set(key, vm);
  }

  private unnominate(key: string): void {
    const nodeName = this.nominationOf.get(key);
    if (nodeName === undefined) return;
    this.nominationOf.delete(key);
    const onNode = this.nominated.get(nodeName);
    onNode?.delete(key);
    if (onNode?.size === 0) this.nominated.delete(nodeName);
  }

  /**
   * Room on `nodeName` promised to nominated VMs that come before `vm` (priority at least as
   * high), so the victims of a preemption — lower priority, pending again — cannot take back
   * the room freed for the VM that preempted them.
   */
  nominatedRoom(nodeName: string, vm: VirtualMachine): Resources {
    const onNode = this.nominated.get(nodeName);
    if (!onNode) return NO_RESOURCES;
    const key = objectKey(vm.metadata);
    let room: Resources = NO_RESOURCES;
    for (const [k, other] of onNode)
      if (k !== key && this.placed.get(k) === undefined && priorityOf(other) >= priorityOf(vm)) room = addResources(room, vmRequest(other));
    return room;
  }
}
