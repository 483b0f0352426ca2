/**
 * shoal_agent_vm_crash_loop_backoff{namespace,vm}: one series per VM bound to this node, 1 while
 * it waits out its crash-loop back-off (restart-backoff.ts), else 0 — kube-state-metrics'
 * kube_pod_container_status_waiting_reason{reason="CrashLoopBackOff"} for VMs. Computed at each
 * scrape from what the agent knows then, never kept, so it cannot drift: the VM's status says
 * CrashLoopBackOff (the agent wrote it when the wait began) and its instance here has not been
 * started again. A VM restarted reads 0 at once, before its new status is written; a VM gone or
 * bound elsewhere has no series.
 */
import type { VirtualMachine } from '@shoal/api';
import { perRegistry } from '@shoal/controller-runtime';
import { Gauge, type Registry } from 'prom-client';
import type { InstanceState } from '../runtime/driver.js';
import { CRASH_LOOP_BACK_OFF_REASON } from './restart-backoff.js';

export const CRASH_LOOP_METRIC = 'shoal_agent_vm_crash_loop_backoff';

/** What the gauge reads of one node at a scrape. */
export interface CrashLoopSource {
  nodeName: string;
  vms: { list(): readonly VirtualMachine[] };
  state(uid: string): InstanceState | undefined;
}

export interface CrashLoopSample {
  namespace: string;
  vm: string;
  /** 1: waiting to be restarted after its guest exited. */
  value: 0 | 1;
}

/** Each VM bound to the node, and whether it waits in its crash-loop back-off. */
export function crashLoopSamples(source: CrashLoopSource): CrashLoopSample[] {
  return source.vms
    .list()
    .filter((vm) => vm.spec.nodeName === source.nodeName)
    .map((vm) => {
      const waiting = vm.status?.reason === CRASH_LOOP_BACK_OFF_REASON && !vm.metadata.deletionTimestamp && source.state(vm.metadata.uid!)?.phase === 'exited';
      return { namespace: vm.metadata.namespace!, vm: vm.metadata.name!, value: waiting ? 1 : 0 };
    });
}

const sourcesOf = perRegistry((registers) => {
  const sources = new Set<CrashLoopSource>();
  new Gauge({
    name: CRASH_LOOP_METRIC,
    help: 'Whether the VM waits to be restarted after its guest exited (CrashLoopBackOff): 1 waiting, 0 not.',
    labelNames: ['namespace', 'vm'],
    registers,
    collect() {
      this.reset();
      for (const source of sources) for (const s of crashLoopSamples(source)) this.set({ namespace: s.namespace, vm: s.vm }, s.value);
    },
  });
  return sources;
});

/** Adds a node's VMs to the gauge of `registry` (one agent process may run many simulated nodes); answers how to take them off. */
export function exportCrashLoops(registry: Registry, source: CrashLoopSource): () => void {
  const sources = sourcesOf(registry);
  sources.add(source);
  return () => void sources.delete(source);
}
