/**
 * `audit verify FILE`: reads the whole log and checks its hash chain (@shoal/api audit-chain.ts),
 * offline: no server is needed. Intact: `OK: N entries, chain intact`, exit 0. Broken: one
 * line per broken line, first the first (`line 17: hash does not match its content (edited?)`),
 * then a summary, exit 1. The file is read, never changed.
 */
import { readFile } from 'node:fs/promises';
import { verifyAuditChain } from '@shoal/api';
import { ExitError } from '../../cli-errors.js';
import type { GlobalArgs } from '../../global-options.js';

export interface AuditVerifyArgs extends GlobalArgs {
  file: string;
}

/** Broken lines printed at most; a log reordered wholesale would otherwise print all of it. */
const MAX_PROBLEMS_SHOWN = 20;

export async function verify(args: AuditVerifyArgs): Promise<void> {
  let text: string;
  try {
    text = await readFile(args.file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${args.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const { entries, problems } = verifyAuditChain(text);
  if (!problems.length) {
    process.stdout.write(`OK: ${entries} entries, chain intact\n`);
    return;
  }
  const shown = problems.slice(0, MAX_PROBLEMS_SHOWN).map((p) => `line ${p.line}: ${p.message}\n`);
  if (problems.length > MAX_PROBLEMS_SHOWN) shown.push(`... and ${problems.length - MAX_PROBLEMS_SHOWN} more broken lines\n`);
  process.stdout.write(shown.join(''));
  process.stdout.write(
    `FAILED: ${entries} entries, chain broken at line ${problems[0]!.line} (${problems.length} broken line${problems.length === 1 ? '' : 's'})\n`,
  );
  throw new ExitError(1);
}
