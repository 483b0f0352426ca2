import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../../global-options.js';
import type { NodeArgs } from '../../node/schedulable.js';

export const cordonCommand: CommandModule<GlobalArgs, NodeArgs> = {
  command: 'cordon <node>',
  describe: 'Mark a node unschedulable: VMs already there keep running, no new ones are placed',
  builder: (y) =>
    y
      .positional('node', { type: 'string', demandOption: true, describe: 'Name of the node' })
      .example('$0 cordon host-3', 'stop placing VMs on host-3') as never,
  handler: (args) => import('../../node/schedulable.js').then((m) => m.changeSchedulable(args, true)),
};
