import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../../global-options.js';
import { TOP_SORT_KEYS, type TopArgs, type TopNodesArgs, type TopVmsArgs } from './args.js';

const common = <T>(y: import('yargs').Argv<T>) =>
  y
    .option('selector', { alias: 'l', type: 'string', describe: 'Label selector, e.g. app=web' })
    .option('sort-by', { choices: TOP_SORT_KEYS, describe: 'Biggest first by cpu or memory (default: by name)' })
    .option('headers', { type: 'boolean', default: true, describe: 'Print the header row (--no-headers to omit)' });

const vmsCommand: CommandModule<GlobalArgs, TopVmsArgs> = {
  command: ['vms [name]', 'vm', 'virtualmachines'],
  describe: "CPU and memory in use by running VMs (their QEMU processes), and the share of each VM's own vCPUs and memory",
  builder: (y) =>
    common(y)
      .positional('name', { type: 'string', describe: 'One VM (default: all running VMs in the namespace)' })
      .option('all-namespaces', { alias: 'A', type: 'boolean', default: false, describe: 'Across all namespaces' })
      .example('$0 top vms', 'every running VM of the namespace')
      .example('$0 top vms -A --sort-by cpu', 'the busiest VMs of the cluster first') as never,
  handler: (args) => import('./top-vms.js').then((m) => m.topVms(args)),
};

const nodesCommand: CommandModule<GlobalArgs, TopNodesArgs> = {
  command: ['nodes [name]', 'node'],
  describe: "CPU and memory the VMs on each node use, and their share of the node's allocatable",
  builder: (y) => common(y).positional('name', { type: 'string', describe: 'One node (default: all)' }) as never,
  handler: (args) => import('./top-nodes.js').then((m) => m.topNodes(args)),
};

export const topCommand: CommandModule<GlobalArgs, TopArgs> = {
  command: 'top <command>',
  describe: 'Show what VMs and nodes use now (CPU and memory), from the metrics API',
  builder: (y) => y.command(vmsCommand).command(nodesCommand).demandCommand(1) as never,
  handler: () => undefined,
};
