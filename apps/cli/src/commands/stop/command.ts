import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../../global-options.js';
import type { PowerArgs } from '../../vm/power-state.js';

export const stopCommand: CommandModule<GlobalArgs, PowerArgs> = {
  command: 'stop <kind> [name]',
  describe: 'Stop a virtual machine (runStrategy Halted, remembering the old one; a Manual one is asked to stop)',
  builder: (y) =>
    y
      .positional('kind', { type: 'string', demandOption: true, describe: 'vm, or vm/NAME' })
      .positional('name', { type: 'string', describe: 'Name of the virtual machine' })
      .example('$0 stop vm web', 'stop the VirtualMachine web')
      .example('$0 -n prod stop vm/web', 'the same in namespace prod') as never,
  handler: (args) => import('./stop.js').then((m) => m.stop(args)),
};
