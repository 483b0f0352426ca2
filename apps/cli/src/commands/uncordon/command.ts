import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../../global-options.js';
import type { NodeArgs } from '../../node/schedulable.js';

export const uncordonCommand: CommandModule<GlobalArgs, NodeArgs> = {
  command: 'uncordon <node>',
  describe: 'Mark a node schedulable again',
  builder: (y) =>
    y
      .positional('node', { type: 'string', demandOption: true, describe: 'Name of the node' })
      .example('$0 uncordon host-3', 'place VMs on host-3 again') as never,
  handler: (args) => import('../../node/schedulable.js').then((m) => m.changeSchedulable(args, false)),
};
