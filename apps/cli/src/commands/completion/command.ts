import type { CommandModule } from 'yargs';
import { COMPLETION_SHELLS, completionScript, type CompletionShell } from '../../completion/shell-scripts.js';
import type { GlobalArgs } from '../../global-options.js';

interface CompletionArgs extends GlobalArgs {
  shell: CompletionShell;
}

export const completionCommand: CommandModule<GlobalArgs, CompletionArgs> = {
  command: 'completion <shell>',
  describe: 'Print the shell completion script: commands, flags, kinds and the names of objects in the cluster',
  builder: (y) =>
    y
      .positional('shell', { choices: COMPLETION_SHELLS, demandOption: true, describe: 'The shell to complete for' })
      .example('source <($0 completion bash)', 'complete shoalctl in this bash session (put it in ~/.bashrc to keep it)')
      .example('$0 completion zsh > "${fpath[1]}/_shoalctl"', 'install it for zsh') as never,
  handler: (args) => {
    process.stdout.write(completionScript(args.shell));
  },
};
