import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../../global-options.js';
import type { DrainArgs } from './drain.js';

export const drainCommand: CommandModule<GlobalArgs, DrainArgs> = {
  command: 'drain <node>',
  describe: 'Cordon a node and move its VMs elsewhere (each is shut down, then placed again), waiting until none is left',
  builder: (y) =>
    y
      .positional('node', { type: 'string', demandOption: true, describe: 'Name of the node' })
      .option('grace-period', {
        type: 'number',
        describe: "Seconds each guest gets to shut down (default: its PriorityClass's evictionGracePeriodSeconds, else 30); 0 kills at once",
      })
      .option('timeout', { type: 'string', default: '5m', describe: 'Give up waiting after this long (e.g. 90s, 5m); the evictions already asked for go on' })
      .example('$0 drain host-3', 'empty host-3 for maintenance; `uncordon host-3` when it is back')
      .example('$0 drain host-3 --grace-period 0 --timeout 1m', 'kill the guests at once') as never,
  handler: (args) => import('./drain.js').then((m) => m.drain(args)),
};
