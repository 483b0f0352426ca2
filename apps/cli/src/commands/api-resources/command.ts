import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../../global-options.js';
import type { ApiResourcesArgs } from './api-resources.js';

export const apiResourcesCommand: CommandModule<GlobalArgs, ApiResourcesArgs> = {
  command: 'api-resources',
  describe: 'List the kinds the API serves, with their short names',
  builder: (y) =>
    y
      .option('output', { alias: 'o', choices: ['name', 'wide'] as const, describe: 'name: plural.group only; wide: with categories' })
      .option('headers', { type: 'boolean', default: true, describe: 'Print the header row (--no-headers to omit)' }) as never,
  handler: (args) => import('./api-resources.js').then((m) => m.apiResources(args)),
};
