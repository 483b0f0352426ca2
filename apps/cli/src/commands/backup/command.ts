import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../../global-options.js';
import type { BackupArgs } from './backup.js';

export const backupCommand: CommandModule<GlobalArgs, BackupArgs> = {
  command: 'backup <kind> [name]',
  describe: 'Back up a virtual machine (its disks, live, and the manifests of it and its volumes), following the Backup until it ends',
  builder: (y) =>
    y
      .positional('kind', { type: 'string', demandOption: true, describe: 'vm, or vm/NAME' })
      .positional('name', { type: 'string', describe: 'Name of the virtual machine' })
      .option('backup-name', { type: 'string', describe: 'Name of the Backup (default: <vm>-<UTC time>)' })
      .option('mode', {
        choices: ['Full', 'Incremental'] as const,
        default: 'Full' as const,
        describe: 'Copy every block, or only those written since the last backup',
      })
      .option('location', { type: 'string', describe: 'BackupLocation (default: the default one)' })
      .option('ttl', { type: 'string', describe: 'How long to keep it, e.g. 720h (default: 720h)' })
      .option('wait', { type: 'boolean', default: true, describe: 'Follow it until it ends (--no-wait: create it and exit)' })
      .option('timeout', { type: 'string', describe: 'Stop following after this long (e.g. 30m), exit 1; the backup goes on (default: no limit)' })
      .example('$0 backup vm web', 'back up web now, whole, and show the progress')
      .example('$0 backup vm/web --mode Incremental --ttl 168h', 'copy only what web wrote since its last backup; keep it a week') as never,
  handler: (args) => import('./backup.js').then((m) => m.backup(args)),
};
