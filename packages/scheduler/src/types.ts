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
    affinity?: { nodeAffinity?: NodeAffinity; [field: string]: unknown };
    [field: string]: unknown;
  };
  status?: {
    phase?: VmPhase;
    nodeName?: string;
    conditions?: Condition[];
    [field: string]: unknown;
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
