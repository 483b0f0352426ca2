import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../../global-options.js';
import type { PowerArgs } from '../../vm/power-state.js';

export const startCommand: CommandModule<GlobalArgs, PowerArgs> = {
  command: 'start <kind> [name]',
  describe: 'Start a stopped virtual machine (restores its runStrategy, or asks a Manual one to run)',
  builder: (y) =>
    y
      .positional('kind', { type: 'string', demandOption: true, describe: 'vm, or vm/NAME' })
      .positional('name', { type: 'string', describe: 'Name of the virtual machine' })
      .example('$0 start vm web', 'start the VirtualMachine web')
      .example('$0 -n prod start vm/web', 'the same in namespace prod') as never,
  handler: (args) => import('./start.js').then((m) => m.start(args)),
};
