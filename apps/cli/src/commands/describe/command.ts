import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../../global-options.js';
import type { DescribeArgs } from './describe.js';

export const describeCommand: CommandModule<GlobalArgs, DescribeArgs> = {
  command: 'describe <kind> <name>',
  describe: 'Show one object in detail: metadata, spec, status, conditions and recent events',
  builder: (y) =>
    y
      .positional('kind', { type: 'string', demandOption: true, describe: 'vm, node, ... (see api-resources)' })
      .positional('name', { type: 'string', demandOption: true }) as never,
  handler: (args) => import('./describe.js').then((m) => m.describe(args)),
};
