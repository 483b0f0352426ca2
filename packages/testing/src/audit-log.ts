/** The entries of an apiserver's audit log (--audit-log-path), for tests that check who wrote what. */
import { readFile } from 'node:fs/promises';
import type { AuditEntry } from '@shoal/api';

/** Every complete line so far; none when the file does not exist yet. */
export async function readAuditLog(path: string): Promise<AuditEntry[]> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as AuditEntry);
}
