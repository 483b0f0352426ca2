import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../../global-options.js';
import type { RestoreArgs } from './restore.js';

export const restoreCommand: CommandModule<GlobalArgs, RestoreArgs> = {
  command: 'restore <backup>',
  describe: 'Make the virtual machines of a Backup again (their volumes first), following the Restore until it ends',
  builder: (y) =>
    y
      .positional('backup', { type: 'string', demandOption: true, describe: 'Name of the Backup (in the namespace)' })
      .option('vm', { type: 'string', array: true, describe: 'Restore only this VM of the Backup (repeatable)' })
      .option('as', { type: 'string', describe: 'The new name of the VM (the Backup must hold one VM, or give --vm)' })
      .option('existing', { choices: ['Skip', 'Fail'] as const, default: 'Skip' as const, describe: 'What to do when an object of a name to restore exists' })
      .option('wait', { type: 'boolean', default: true, describe: 'Follow it until it ends (--no-wait: create it and exit)' })
      .option('timeout', { type: 'string', describe: 'Stop following after this long (e.g. 30m), exit 1; the restore goes on (default: no limit)' })
      .example('$0 restore web-20261203T101500Z --as web-copy', 'make web again, as web-copy, from that backup')
      .example('$0 restore nightly-20261203030000', 'make every VM of the backup again under its own name') as never,
  handler: (args) => import('./restore.js').then((m) => m.restore(args)),
};
