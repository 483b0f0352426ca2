/**
 * `backup vm NAME`: create a Backup of that VM and follow it until it ends (../../backup/follow.ts):
 * exit 0 with one line on stdout when it completed, 1 with its errors on stderr otherwise.
 */
import type { Backup, Manifest, VirtualMachine } from '@shoal/api';
import { parseDuration } from '@shoal/api';
import { ExitError, UsageError } from '../../cli-errors.js';
import { connect } from '../../connect.js';
import type { GlobalArgs } from '../../global-options.js';
import { durationFlag } from '../../duration-flag.js';
import { vmNameFromKindAndName } from '../../vm/vm-reference.js';
import { backupStatus, diskBackupsOf, followUntilFinal } from '../../backup/follow.js';
import { formatBytes } from '../../output/progress.js';
import { waitWithProgress, WaitTimeoutError } from '../../output/wait-progress.js';

export interface BackupArgs extends GlobalArgs {
  kind: string;
  name?: string;
  backupName?: string;
  mode: 'Full' | 'Incremental';
  location?: string;
  ttl?: string;
  wait: boolean;
  timeout?: string;
}

/** `web-20261203t101500z`: the VM and the UTC time, a valid name that sorts by time. */
export function defaultBackupName(vmName: string, at: Date): string {
  const stamp = at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'z')
    .toLowerCase();
  return `${vmName.slice(0, 253 - stamp.length - 1)}-${stamp}`;
}

export function backupManifest(vmName: string, args: Pick<BackupArgs, 'backupName' | 'mode' | 'location' | 'ttl'>, at: Date): Manifest<Backup> {
  if (args.ttl !== undefined) {
    try {
      parseDuration(args.ttl);
    } catch (err) {
      throw new UsageError(`--ttl: ${(err as Error).message}`);
    }
  }
  return {
    apiVersion: 'shoal.dev/v1alpha1',
    kind: 'Backup',
    metadata: { name: args.backupName ?? defaultBackupName(vmName, at) },
    spec: { vmNames: [vmName], mode: args.mode, ...(args.location ? { location: args.location } : {}), ...(args.ttl ? { ttl: args.ttl } : {}) },
  };
}

export async function backup(args: BackupArgs): Promise<void> {
  const vmName = vmNameFromKindAndName('backup', args.kind, args.name);
  const manifest = backupManifest(vmName, args, new Date());
  const timeoutMs = args.timeout !== undefined ? durationFlag('--timeout', args.timeout) : undefined;
  const { client, settings } = await connect(args);
  const namespace = settings.namespace;
  // A VM that does not exist is the user's mistake to hear about now, not a Backup to fail later.
  await client.get<VirtualMachine>('vm', vmName, { namespace });
  const created = await client.create<Backup>('backup', manifest, { namespace });
  if (!args.wait) {
    process.stdout.write(`backup.shoal.dev/${created.metadata.name} created\n`);
    return;
  }
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  const end = await waitWithProgress({ subject: `backup ${created.metadata.name}`, timeoutMs, signal: stop.signal }, (progress, signal) =>
    followUntilFinal(client, 'backup', created, async (b) => backupStatus(b, await diskBackupsOf(client, b)), progress, signal),
  ).catch((err: unknown) => {
    if (!(err instanceof WaitTimeoutError)) throw err;
    process.stderr.write(`error: ${err.message}; the backup goes on (shoalctl get backup ${created.metadata.name})\n`);
    throw new ExitError(1);
  });
  const phase = end.status?.phase;
  if (phase === 'Completed') {
    process.stdout.write(`backup.shoal.dev/${end.metadata.name} completed: ${formatBytes(end.status?.totalBytes ?? 0)}\n`);
    return;
  }
  if (!phase || phase === 'New' || phase === 'InProgress') {
    process.stderr.write(`stopped following backup ${end.metadata.name}; it goes on (shoalctl get backup ${end.metadata.name})\n`);
    throw new ExitError(130);
  }
  const errors = (end.status?.errors ?? []).map((e) => `  ${e.item}: ${e.message}`).join('\n');
  process.stderr.write(`backup ${end.metadata.name} ${phase}${errors ? `:\n${errors}` : ''}\n`);
  throw new ExitError(1);
}
