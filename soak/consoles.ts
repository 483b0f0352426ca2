/**
 * The path the topology must keep open besides the agents' own calls: the apiserver relays a
 * VM's serial console from the agent's endpoint, which listens on the agent's address inside
 * its namespace. Read once after the warm-up, for every Running VM: its console, through the
 * apiservers, must carry its own boot marker.
 */
import type { VirtualMachine } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';

/** Problems reading the running VMs' consoles through the apiserver (none when all is well). */
export async function consoleProblems(client: ShoalClient, vms: readonly VirtualMachine[]): Promise<string[]> {
  const problems: string[] = [];
  for (const vm of vms.filter((v) => v.status?.phase === 'Running')) {
    const name = vm.metadata.name!;
    try {
      let text = '';
      for await (const chunk of client.logs('vm', name, { namespace: 'default', signal: AbortSignal.timeout(10_000) })) text += chunk;
      if (!text.includes(`SHOAL-BOOTED uid=${vm.metadata.uid}`)) problems.push(`${name}: its console, read through the apiserver, has no boot marker`);
    } catch (err) {
      problems.push(`${name}: its console could not be read through the apiserver: ${(err as Error).message}`);
    }
  }
  return problems;
}
