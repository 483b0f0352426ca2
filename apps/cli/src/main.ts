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
import { topCommand } from './commands/top/command.js';
import type { completeWords } from './completion/complete-words.js';
import { globalOptions } from './global-options.js';
import { joinStdinFileArgs } from './stdin-argument.js';

type Args = Parameters<typeof completeWords>;

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
  .command(topCommand)
  .command(apiResourcesCommand)
  .command(auditCommand)
  .command(adminCommand)
  .command(versionCommand)
  .command(completionCommand)
  // Answers `--get-yargs-completions WORDS` for the completion scripts; the hidden command is yargs' own script, unused.
  // Loaded only when completing: it needs the API and client libraries, which other commands' start should not pay for.
  // Four parameters, as completeWords has: yargs tells its completion function's forms apart by their arity.
  .completion('__yargs-completion-script', false, (current: string, argv: Args[1], defaultCompletion: Args[2], done: Args[3]) => {
    void import('./completion/complete-words.js').then((m) => m.completeWords(current, argv, defaultCompletion, done));
  })
  // A flag without a value: left to take one, it would swallow the program name the scripts pass
  // first, and the words after it would run as a command (completing `delete vm web` would delete web).
  .option('get-yargs-completions', { type: 'boolean', hidden: true })
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

// yargs renders the help text of every command it runs, in case it must show it on failure;
// this CLI never does (.fail above throws, and the error says what is wrong), and the rendering
// is a large part of a short command's run time.
type WithUsage = { getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage: () => void } } };
const usage = (cli as unknown as WithUsage).getInternalMethods?.().getUsageInstance?.();
if (usage) usage.cacheHelpMessage = () => undefined;

try {
  await cli.parseAsync();
} catch (err) {
  // Loaded only on failure: it needs the client and API libraries, which a command that never
  // touches them (help, version, completion) should not have to load at start.
  const { reportError } = await import('./report-error.js');
  const { message, exitCode } = reportError(err);
  if (message) process.stderr.write(`${message}\n`);
  process.exitCode = exitCode;
}
