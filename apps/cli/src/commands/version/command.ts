import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../../global-options.js';
import type { VersionArgs } from './version.js';

export const versionCommand: CommandModule<GlobalArgs, VersionArgs> = {
  command: 'version',
  describe: "Print shoalctl's version and the API server's",
  builder: (y) => y.option('client', { type: 'boolean', default: false, describe: 'Only the client version; do not contact the server' }) as never,
  handler: (args) => import('./version.js').then((m) => m.version(args)),
};
