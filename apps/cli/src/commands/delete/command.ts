import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../../global-options.js';
import type { DeleteArgs } from './delete.js';

export const deleteCommand: CommandModule<GlobalArgs, DeleteArgs> = {
  command: 'delete [kind] [names..]',
  describe: 'Delete objects by name, by label selector or from manifests, and wait until they are gone',
  builder: (y) =>
    y
      .positional('kind', { type: 'string', describe: 'vm, node, ... (see api-resources)' })
      .positional('names', { type: 'string', array: true, default: [] })
      .option('filename', { alias: 'f', type: 'string', array: true, describe: 'Delete the objects these manifests name (file, directory or -)' })
      .option('selector', { alias: 'l', type: 'string', describe: 'Delete every object of the kind matching this label selector' })
      .option('wait', { type: 'boolean', default: true, describe: 'Wait until the objects are gone (finalizers done); --wait=false to return at once' })
      .option('timeout', { type: 'string', default: '60s', describe: 'How long --wait waits, e.g. 30s, 5m' })
      .option('ignore-not-found', { type: 'boolean', default: false, describe: 'A missing object is not an error' })
      .example('$0 delete vm web', 'delete the VirtualMachine web and wait until it is gone')
      .example('$0 delete vm -l app=web --wait=false', 'delete the matching VMs without waiting') as never,
  handler: (args) => import('./delete.js').then((m) => m.deleteObjects(args)),
};
