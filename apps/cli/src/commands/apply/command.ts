import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../../global-options.js';
import type { ApplyArgs } from './apply.js';

export const applyCommand: CommandModule<GlobalArgs, ApplyArgs> = {
  command: 'apply',
  describe: 'Create or update objects from manifests (client-side apply like kubectl apply, or server-side with --server-side)',
  builder: (y) =>
    y
      .option('filename', {
        alias: 'f',
        type: 'string',
        array: true,
        demandOption: 'give the manifests with -f FILE, -f DIR or -f - (stdin)',
        describe: 'File, directory (recursed) or - for stdin; repeatable',
      })
      .option('server-side', {
        type: 'boolean',
        default: false,
        describe: 'Let the server merge each manifest and track which manager owns which field (conflicts with other managers fail)',
      })
      .option('force-conflicts', {
        type: 'boolean',
        default: false,
        describe: 'With --server-side: take over fields other managers own instead of failing',
      })
      .option('field-manager', {
        type: 'string',
        describe: 'Who the applied fields belong to (default: shoalctl)',
      })
      .example('$0 apply -f vm.yaml', 'create or update the objects in vm.yaml')
      .example('$0 apply -f vm.yaml --server-side', 'the same, merged on the server, the fields owned by "shoalctl"')
      .example('cat *.yaml | $0 apply -f -', 'apply manifests from stdin') as never,
  handler: (args) => import('./apply.js').then((m) => m.apply(args)),
};
