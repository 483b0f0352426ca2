import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../../global-options.js';
import type { PlaceArgs } from './place.js';

export const placeCommand: CommandModule<GlobalArgs, PlaceArgs> = {
  command: 'place [vm]',
  describe: 'Show where the scheduler would put a virtual machine and why (dry run: nothing is bound or evicted)',
  builder: (y) =>
    y
      .positional('vm', { type: 'string', describe: 'NAME or vm/NAME of an existing VirtualMachine' })
      .option('filename', { alias: 'f', type: 'string', describe: 'A VirtualMachine manifest to judge without creating it (- for stdin)' })
      .option('output', { alias: 'o', choices: ['text', 'json'] as const, default: 'text' as const, describe: 'text for people, json for scripts' })
      .option('all-nodes', { type: 'boolean', default: false, describe: 'List every node, not only the best candidates and a count per reason' })
      .option('min-priority-gap', {
        type: 'number',
        default: 10,
        describe: 'Preemption: victims must be at least this much below the VM (as the preemptor is configured)',
      })
      .check((a) => {
        if (!a.vm === !a.filename) throw new Error('name a VM or give -f FILE (one of them)');
        if (!(Number.isInteger(a['min-priority-gap']) && a['min-priority-gap'] >= 1)) throw new Error('--min-priority-gap must be a whole number ≥ 1');
        return true;
      })
      .example('$0 place web', 'where web would go now, the scores, and what rules out the other nodes')
      .example('$0 place -f big-vm.yaml', 'judge a manifest before applying it; shows the VMs preemption would evict') as never,
  handler: (args) => import('./place.js').then((m) => m.place(args)),
};
