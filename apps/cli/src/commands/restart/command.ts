import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../../global-options.js';
import type { PowerArgs } from '../../vm/power-state.js';

export const restartCommand: CommandModule<GlobalArgs, PowerArgs> = {
  command: 'restart <kind> [name]',
  describe: 'Ask the agent to restart a running virtual machine once',
  builder: (y) =>
    y
      .positional('kind', { type: 'string', demandOption: true, describe: 'vm, or vm/NAME' })
      .positional('name', { type: 'string', describe: 'Name of the virtual machine' })
      .example('$0 restart vm web', 'restart the VirtualMachine web')
      .example('$0 -n prod restart vm/web', 'the same in namespace prod') as never,
  handler: (args) => import('./restart.js').then((m) => m.restart(args)),
};
