/**
 * The VirtualMachines the benchmark writes: examples/vm.yaml with a unique name and the labels
 * and annotation a real fleet carries, about 1 KB once the apiserver has stored it. The raw-etcd
 * baseline writes values shaped and sized like that stored form.
 */
import { randomUUID } from 'node:crypto';

export const VM_API = '/apis/shoal.dev/v1alpha1/namespaces';

export function vmName(prefix: string, i: number): string {
  return `${prefix}-${String(i).padStart(6, '0')}`;
}

/** Stands in for the free text real objects carry (descriptions, last-applied configuration, ...). */
const DESCRIPTION =
  'Benchmark VM: one vCPU, 256 MiB, the default busybox guest, says hello and idles. ' +
  'Labels and this annotation bring the stored object to about the size of a real VM manifest ' +
  'with its status, conditions and scheduling constraints filled in. A fleet of these is what ' +
  'the control plane stores, lists and watches all day.';

/** The request body of a create, as `shoalctl apply -f examples/vm.yaml` would send it. */
export function vmBody(name: string, i: number): Record<string, unknown> {
  return {
    apiVersion: 'shoal.dev/v1alpha1',
    kind: 'VirtualMachine',
    metadata: {
      name,
      labels: {
        app: 'hello',
        tier: 'bench',
        env: 'staging',
        'shoal.dev/owner': 'team-platform',
        shard: `s${i % 16}`,
        'topology.shoal.dev/zone': `zone-${'abc'[i % 3]}`,
      },
      annotations: { 'shoal.dev/description': DESCRIPTION },
    },
    spec: {
      runStrategy: 'Always',
      resources: { vcpus: 1, memoryMiB: 256 },
      command: ['sh', '-c', 'echo hello from $(hostname); sleep infinity'],
      network: { mode: 'user' },
      nodeSelector: { 'topology.shoal.dev/zone': `zone-${'abc'[i % 3]}` },
    },
  };
}

/** The value the apiserver stores for vmBody(): metadata filled in and defaults applied (checked against etcd in each run). */
export function storedVmValue(name: string, i: number): string {
  const body = vmBody(name, i) as { metadata: Record<string, unknown>; spec: Record<string, unknown> };
  return JSON.stringify({
    ...body,
    metadata: {
      ...body.metadata,
      namespace: 'default',
      uid: randomUUID(),
      creationTimestamp: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      generation: 1,
    },
    spec: { ...body.spec, image: 'default', evictionStrategy: 'Shutdown' },
  });
}
