/**
 * `top nodes [NAME] [-l SEL] [--sort-by cpu|memory]`: what the VMs on each node use, against the
 * node's allocatable. A node whose agent does not answer is listed with `<unknown>`, as `kubectl
 * top nodes` lists a node without metrics, so a missing node is never mistaken for an idle one.
 */
import type { Node } from '@shoal/api';
import { listNodeMetrics } from '@shoal/client';
import { connect } from '../../connect.js';
import { formatColumns } from '../../output/columns.js';
import type { TopNodesArgs } from './args.js';
import { byUsage, mebibytes, millicores, share, usageOf, type Usage } from './usage-cells.js';

const UNKNOWN = '<unknown>';

interface NodeRow {
  name: string;
  usage?: Usage;
  vms?: number;
  vcpus?: number;
  memoryBytes?: number;
}

export async function topNodes(args: TopNodesArgs): Promise<void> {
  const { client } = await connect(args);
  try {
    const [metrics, nodes] = await Promise.all([
      listNodeMetrics(client, { labelSelector: args.selector }),
      args.name ? client.get<Node>('node', args.name).then((n) => [n]) : client.list<Node>('node', { labelSelector: args.selector }).then((l) => l.items),
    ]);
    const byName = new Map(metrics.map((m) => [m.metadata.name, m]));
    const rows: NodeRow[] = nodes.map((n) => {
      const m = byName.get(n.metadata.name!);
      const room = n.status?.allocatable ?? n.status?.capacity;
      return {
        name: n.metadata.name!,
        usage: m && usageOf(m.usage),
        vms: m?.vms,
        vcpus: room?.vcpus,
        memoryBytes: room?.memoryMiB === undefined ? undefined : room.memoryMiB * 1024 ** 2,
      };
    });
    if (rows.length === 0) {
      process.stderr.write('No nodes.\n');
      return;
    }
    const header = ['NAME', 'CPU(cores)', 'CPU%', 'MEMORY(bytes)', 'MEMORY%', 'VMS'];
    const lines = byUsage(rows, args.sortBy).map((r) =>
      r.usage
        ? [r.name, millicores(r.usage.cores), share(r.usage.cores, r.vcpus), mebibytes(r.usage.bytes), share(r.usage.bytes, r.memoryBytes), String(r.vms)]
        : [r.name, UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN],
    );
    process.stdout.write(formatColumns(args.headers ? [header, ...lines] : lines));
  } finally {
    await client.close();
  }
}
