/**
 * The parts of VirtualMachine and Node the scheduler reads (schemas/virtualmachine.json,
 * schemas/node.json). Plain data: every function in this package is pure over these shapes.
 */
import type { Condition, KubeObject, LabelSelectorObject } from '@shoal/api';

export type TaintEffect = 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';

/** schemas/node.json spec.taints[]. */
export interface Taint {
  key: string;
  value?: string;
  effect: TaintEffect;
  timeAdded?: string;
}

/** schemas/virtualmachine.json spec.tolerations[]. */
export interface Toleration {
  key?: string;
  /** Default Equal. */
  operator?: 'Exists' | 'Equal';
  value?: string;
  /** Empty matches every effect. */
  effect?: TaintEffect;
  tolerationSeconds?: number;
}

/** schemas/meta/node-affinity.json. */
export interface NodeAffinity {
  /** Label selectors, ORed: the node must match at least one. */
  required?: LabelSelectorObject[];
  /** Each matching selector adds its weight (1..100) to the node's score. */
  preferred?: { weight: number; selector: LabelSelectorObject }[];
}

/** schemas/meta/vm-affinity.json: terms relative to other VMs in the same namespace. */
export interface VmAffinityTerm {
  labelSelector: LabelSelectorObject;
  /** A node label naming the failure domain (`topology.shoal.dev/zone`); see topology.ts. */
  topologyKey: string;
}

export interface VmAffinity {
  required?: VmAffinityTerm[];
  preferred?: (VmAffinityTerm & { weight: number })[];
}

/** schemas/virtualmachine.json spec.topologySpreadConstraints[]. */
export interface TopologySpreadConstraint {
  maxSkew: number;
  topologyKey: string;
  /** Default DoNotSchedule. */
  whenUnsatisfiable?: 'DoNotSchedule' | 'ScheduleAnyway';
  labelSelector?: LabelSelectorObject;
}

export type PreemptionPolicy = 'PreemptLowerPriority' | 'Never';

export interface Resources {
  vcpus: number;
  memoryMiB: number;
}

export type RunStrategy = 'Always' | 'RerunOnFailure' | 'Manual' | 'Halted';

export type VmPhase = 'Pending' | 'Scheduled' | 'Starting' | 'Running' | 'Stopping' | 'Stopped' | 'Failed';

export interface VirtualMachine extends KubeObject {
  spec: {
    runStrategy?: RunStrategy;
    resources?: Partial<Resources>;
    nodeName?: string;
    nodeSelector?: Record<string, string>;
    tolerations?: Toleration[];
    affinity?: { nodeAffinity?: NodeAffinity; vmAffinity?: VmAffinity; vmAntiAffinity?: VmAffinity };
    topologySpreadConstraints?: TopologySpreadConstraint[];
    priorityClassName?: string;
    /** Filled in by the apiserver's priority admission from the PriorityClass (0 without one). */
    priority?: number;
    preemptionPolicy?: PreemptionPolicy;
    [field: string]: unknown;
  };
  status?: {
    phase?: VmPhase;
    nodeName?: string;
    /** The node a preempting VM waits for while its victims shut down. */
    nominatedNodeName?: string;
    /** On a victim: the `namespace/name` of the VM that preempted it. */
    preemptedBy?: string;
    conditions?: Condition[];
    [field: string]: unknown;
  };
}

export type ScoringStrategy = 'BinPack' | 'Spread';

/** schemas/placementpolicy.json: how full the nodes it selects may get, and how to rank them. */
export interface PlacementPolicy extends KubeObject {
  spec?: {
    nodeSelector?: Record<string, string>;
    overcommit?: { vcpus?: number; memory?: number };
    scoring?: ScoringStrategy;
  };
}

/** schemas/priorityclass.json. */
export interface PriorityClass extends KubeObject {
  spec: {
    value: number;
    preemptionPolicy?: PreemptionPolicy;
    globalDefault?: boolean;
    evictionGracePeriodSeconds?: number;
    description?: string;
  };
}

export interface Node extends KubeObject {
  spec?: {
    unschedulable?: boolean;
    taints?: Taint[];
    [field: string]: unknown;
  };
  status?: {
    capacity?: Partial<Resources>;
    allocatable?: Partial<Resources>;
    conditions?: Condition[];
    [field: string]: unknown;
  };
}
