/**
 * `top vms [NAME] [-n NS | -A] [-l SEL] [--sort-by cpu|memory]`: what running VMs use, with the
 * share of the vCPUs and memory each VM was given (spec.resources), which says whether a guest
 * is busy or idle better than host figures alone.
 */
import type { VirtualMachine, VirtualMachineMetrics } from '@shoal/api';
import { listVmMetrics } from '@shoal/client';
import { ExitError } from '../../cli-errors.js';
import { connect } from '../../connect.js';
import { formatColumns } from '../../output/columns.js';
import type { TopVmsArgs } from './args.js';
import { byUsage, mebibytes, millicores, share, usageOf, type Usage } from './usage-cells.js';

interface VmRow {
  namespace: string;
  name: string;
  usage: Usage;
  vcpus?: number;
  memoryBytes?: number;
}

export async function topVms(args: TopVmsArgs): Promise<void> {
  const { client, settings } = await connect(args);
  const namespace = args.allNamespaces ? undefined : settings.namespace;
  try {
    const [metrics, vms] = await Promise.all([
      listVmMetrics(client, { namespace, labelSelector: args.selector }),
      client.list<VirtualMachine>('vm', { namespace, labelSelector: args.selector }),
    ]);
    const specs = new Map(vms.items.map((vm) => [`${vm.metadata.namespace}/${vm.metadata.name}`, vm.spec.resources]));
    let rows = metrics.map((m) => rowOf(m, specs.get(`${m.metadata.namespace}/${m.metadata.name}`)));
    if (args.name) {
      rows = rows.filter((r) => r.name === args.name);
      if (rows.length === 0) {
        // A 404 for a VM that does not exist; otherwise it exists but is not running.
        await client.get('vm', args.name, { namespace });
        process.stderr.write(`error: no usage of virtualmachine ${args.name}: it is not running (or its node's agent cannot be reached)\n`);
        throw new ExitError(1);
      }
    }
    if (rows.length === 0) {
      process.stderr.write(namespace ? `No running VMs in ${namespace} namespace.\n` : 'No running VMs.\n');
      return;
    }
    const header = [...(args.allNamespaces ? ['NAMESPACE'] : []), 'NAME', 'CPU(cores)', 'CPU%', 'MEMORY(bytes)', 'MEMORY%'];
    const lines = byUsage(rows, args.sortBy).map((r) => [
      ...(args.allNamespaces ? [r.namespace] : []),
      r.name,
      millicores(r.usage.cores),
      share(r.usage.cores, r.vcpus),
      mebibytes(r.usage.bytes),
      share(r.usage.bytes, r.memoryBytes),
    ]);
    process.stdout.write(formatColumns(args.headers ? [header, ...lines] : lines));
  } finally {
    await client.close();
  }
}

function rowOf(m: VirtualMachineMetrics, resources: VirtualMachine['spec']['resources'] | undefined): VmRow {
  return {
    namespace: m.metadata.namespace ?? '',
    name: m.metadata.name,
    usage: usageOf(m.usage),
    vcpus: resources?.vcpus,
    memoryBytes: resources?.memoryMiB === undefined ? undefined : resources.memoryMiB * 1024 ** 2,
  };
}
