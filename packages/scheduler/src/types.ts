/**
 * The parts of VirtualMachine and Node the scheduler reads (schemas/virtualmachine.json,
 * schemas/node.json). Plain data: every function in this package is pure over these shapes.
 */
import type { Condition, KubeObject } from '@shoal/api';

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
    [field: string]: unknown;
  };
  status?: {
    capacity?: Partial<Resources>;
    allocatable?: Partial<Resources>;
    conditions?: Condition[];
    [field: string]: unknown;
  };
}
