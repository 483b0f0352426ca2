import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../../global-options.js';
import type { MigrateArgs } from './migrate.js';

export const migrateCommand: CommandModule<GlobalArgs, MigrateArgs> = {
  command: 'migrate <kind> [name]',
  describe: 'Move a running virtual machine to another node (a Migration), following it until it ends',
  builder: (y) =>
    y
      .positional('kind', { type: 'string', demandOption: true, describe: 'vm, or vm/NAME' })
      .positional('name', { type: 'string', describe: 'Name of the virtual machine' })
      .option('to', { type: 'string', describe: 'Node to move it to (default: the scheduler chooses one)' })
      .option('cold', { type: 'boolean', default: false, describe: 'Shut the guest down, copy its disks and boot it on the target, instead of moving it live' })
      .option('allow-cold-fallback', {
        type: 'boolean',
        default: false,
        describe: 'If the live move fails before the switchover, go on as a cold one (the guest is restarted on the target) instead of failing',
      })
      .option('bandwidth', { type: 'number', describe: 'Cap on the memory transfer rate, in MiB/s (default: unlimited)' })
      .option('max-downtime', { type: 'number', describe: 'Longest pause the guest may see at switchover, in ms (default 300; live only)' })
      .option('wait', { type: 'boolean', default: true, describe: 'Follow it until it succeeds or fails (--no-wait: create it and exit)' })
      .option('timeout', { type: 'string', describe: 'Stop following after this long (e.g. 10m), exit 1; the migration goes on (default: no limit)' })
      .example('$0 migrate vm web --to node-b', 'move web live to node-b and show its progress')
      .example('$0 -n prod migrate vm/db --cold --no-wait', 'ask for a cold move of db to a node the scheduler picks, and return at once') as never,
  handler: (args) => import('./migrate.js').then((m) => m.migrate(args)),
};
