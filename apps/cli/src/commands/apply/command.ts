import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../../global-options.js';
import type { ApplyArgs } from './apply.js';

export const applyCommand: CommandModule<GlobalArgs, ApplyArgs> = {
  command: 'apply',
  describe: 'Create or update objects from manifests (client-side apply, like kubectl apply)',
  builder: (y) =>
    y
      .option('filename', {
        alias: 'f',
        type: 'string',
        array: true,
        demandOption: 'give the manifests with -f FILE, -f DIR or -f - (stdin)',
        describe: 'File, directory (recursed) or - for stdin; repeatable',
      })
      .example('$0 apply -f vm.yaml', 'create or update the objects in vm.yaml')
      .example('cat *.yaml | $0 apply -f -', 'apply manifests from stdin') as never,
  handler: (args) => import('./apply.js').then((m) => m.apply(args)),
};
