/**
 * shoalctl: every command is listed here, each a module under commands/ whose handler is loaded
 * only when it runs (STYLE.md 9). Errors end here too: one place decides what the user reads
 * and which exit code scripts see (report-error.ts).
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { UsageError } from './cli-errors.js';
import { apiResourcesCommand } from './commands/api-resources/command.js';
import { adminCommand } from './commands/admin/command.js';
import { applyCommand } from './commands/apply/command.js';
import { auditCommand } from './commands/audit/command.js';
import { completionCommand } from './commands/completion/command.js';
import { cordonCommand } from './commands/cordon/command.js';
import { deleteCommand } from './commands/delete/command.js';
import { describeCommand } from './commands/describe/command.js';
import { drainCommand } from './commands/drain/command.js';
import { eventsCommand } from './commands/events/command.js';
import { getCommand } from './commands/get/command.js';
import { logsCommand } from './commands/logs/command.js';
import { migrateCommand } from './commands/migrate/command.js';
import { placeCommand } from './commands/place/command.js';
import { restartCommand } from './commands/restart/command.js';
import { startCommand } from './commands/start/command.js';
import { stopCommand } from './commands/stop/command.js';
import { uncordonCommand } from './commands/uncordon/command.js';
import { versionCommand } from './commands/version/command.js';
import { backupCommand } from './commands/backup/command.js';
import { restoreCommand } from './commands/restore/command.js';
import { gitopsCommand } from './commands/gitops/command.js';
import { completeWords } from './completion/complete-words.js';
import { globalOptions } from './global-options.js';
import { reportError } from './report-error.js';
import { joinStdinFileArgs } from './stdin-argument.js';

/** The completion scripts asking what may come next: a half-typed line is no usage error, and nothing but candidates may be printed. */
const completing = process.argv.includes('--get-yargs-completions');

const cli = yargs(joinStdinFileArgs(hideBin(process.argv)))
  .scriptName('shoalctl')
  .usage('$0 [--server URL] COMMAND [options]\n\nControls a Shoal cluster: microVMs declared as Kubernetes-style objects.')
  .options(globalOptions)
  .command(applyCommand)
  .command(getCommand)
  .command(describeCommand)
  .command(eventsCommand)
  .command(deleteCommand)
  .command(logsCommand)
  .command(placeCommand)
  .command(cordonCommand)
  .command(uncordonCommand)
  .command(drainCommand)
  .command(startCommand)
  .command(stopCommand)
  .command(restartCommand)
  .command(migrateCommand)
  .command(backupCommand)
  .command(restoreCommand)
  .command(gitopsCommand)
  .command(apiResourcesCommand)
  .command(auditCommand)
  .command(adminCommand)
  .command(versionCommand)
  .command(completionCommand)
  // Answers `--get-yargs-completions WORDS` for the completion scripts; the hidden command is yargs' own script, unused.
  .completion('__yargs-completion-script', false, completeWords)
  .demandCommand(1, 'give a command')
  .recommendCommands()
  .strict(!completing)
  .version(false)
  .help()
  .alias('help', 'h')
  .wrap(Math.min(120, process.stdout.columns || 100))
  // yargs reports bad usage through here; a handler's own error arrives as err and passes through untouched.
  .fail((msg, err) => {
    if (completing) return;
    throw err ?? new UsageError(msg);
  });

try {
  await cli.parseAsync();
} catch (err) {
  const { message, exitCode } = reportError(err);
  if (message) process.stderr.write(`${message}\n`);
  process.exitCode = exitCode;
}
