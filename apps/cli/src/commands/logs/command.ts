import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../../global-options.js';
import type { LogsArgs } from './logs.js';

export const logsCommand: CommandModule<GlobalArgs, LogsArgs> = {
  command: 'logs <vm>',
  describe: "Print a virtual machine's serial console, relayed from its node agent; -f keeps streaming it",
  builder: (y) =>
    y
      .positional('vm', { type: 'string', demandOption: true, describe: 'NAME or vm/NAME' })
      .option('follow', { alias: 'f', type: 'boolean', default: false, describe: 'Keep streaming new output until Ctrl-C or the console closes' })
      .option('tail', { type: 'number', default: -1, describe: 'Lines of recent output to show; -1 shows all' })
      .example('$0 logs web', 'print the console of the VirtualMachine web')
      .example('$0 logs -f --tail 20 vm/web', 'the last 20 lines, then new output as it comes') as never,
  handler: (args) => import('./logs.js').then((m) => m.logs(args)),
};
