import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../../global-options.js';
import type { AuditVerifyArgs } from './verify.js';

const verifyCommand: CommandModule<GlobalArgs, AuditVerifyArgs> = {
  command: 'verify <file>',
  describe: "Check an apiserver audit log's hash chain (--audit-log-path): every line parses, links to the one before and hashes to what it says",
  builder: (y) =>
    y
      .positional('file', { type: 'string', demandOption: true, describe: 'The audit log file' })
      .example('$0 audit verify /var/log/shoal/audit.log', 'prints "OK: N entries, chain intact" (exit 0) or the first broken line (exit 1)') as never,
  handler: (args) => import('./verify.js').then((m) => m.verify(args)),
};

export const auditCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'audit',
  describe: 'Work with the apiserver audit log',
  builder: (y) => y.command(verifyCommand).demandCommand(1, 'give an audit command (verify)') as never,
  handler: () => undefined,
};
