import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../../global-options.js';
import type { GitopsDiffArgs } from './diff.js';
import type { GitopsReconcileArgs } from './reconcile.js';

const diffCommand: CommandModule<GlobalArgs, GitopsDiffArgs> = {
  command: 'diff <sync>',
  describe:
    "Show what the GitSync's next pass would change: a unified diff per object (live against a dry-run apply), then what prune would delete. Exit 1 when there are differences",
  builder: (y) =>
    y
      .positional('sync', { type: 'string', demandOption: true, describe: 'Name of the GitSync (in the namespace)' })
      .option('path', {
        type: 'string',
        describe: "A local directory to diff instead of the repository's current revision (e.g. a working copy before you push)",
      })
      .example('$0 gitops diff web', 'the changes the current revision would make')
      .example('$0 gitops diff web --path ./clusters/prod', 'the changes your working copy would make once pushed') as never,
  handler: (args) => import('./diff.js').then((m) => m.gitopsDiff(args)),
};

const reconcileCommand: CommandModule<GlobalArgs, GitopsReconcileArgs> = {
  command: 'reconcile <sync>',
  describe: 'Make the GitSync apply now (with --with-source, fetch its GitRepository first) and wait for the result',
  builder: (y) =>
    y
      .positional('sync', { type: 'string', demandOption: true, describe: 'Name of the GitSync (in the namespace)' })
      .option('with-source', { type: 'boolean', default: false, describe: 'Fetch the GitRepository first' })
      .option('timeout', { type: 'number', default: 300, describe: 'Seconds to wait for the controller to answer' }) as never,
  handler: (args) => import('./reconcile.js').then((m) => m.gitopsReconcile(args)),
};

export const gitopsCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'gitops <command>',
  describe: 'GitOps: diff or reconcile a GitSync now',
  builder: (y) => y.command(diffCommand).command(reconcileCommand).demandCommand(1) as never,
  handler: () => undefined,
};
