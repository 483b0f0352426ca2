/** Waits until the example VMs run, saying each phase change as it happens. */
import type { KubeObject, VirtualMachine } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';

const BOOT_TIMEOUT_MS = 180_000;

export async function waitForVmsRunning(client: ShoalClient, objects: KubeObject[], progress: (line: string) => void): Promise<void> {
  const vms = objects.filter((o) => o.kind === 'VirtualMachine');
  const said = new Map<string, string>();
  const deadline = Date.now() + BOOT_TIMEOUT_MS;
  for (;;) {
    let running = 0;
    for (const vm of vms) {
      const live = await client.get<VirtualMachine>('vm', vm.metadata.name!, { namespace: vm.metadata.namespace });
      const phase = live.status?.phase ?? 'Pending';
      if (said.get(vm.metadata.name!) !== phase) {
        said.set(vm.metadata.name!, phase);
        progress(`vm/${vm.metadata.name}: ${phase}${live.status?.message ? ` (${live.status.message})` : ''}`);
      }
      if (phase === 'Running') running++;
    }
    if (running === vms.length) return;
    if (Date.now() > deadline) throw new Error(`the example VMs were not Running within ${BOOT_TIMEOUT_MS / 1000} s; see the logs under the data dir`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
