/**
 * `restore BACKUP [--as NAME]`: create a Restore of that Backup and follow it until it ends:
 * exit 0 with one line per item on stdout when it completed, 1 with the failed items otherwise.
 */
import type { Backup, Manifest, Restore } from '@shoal/api';
import { ExitError, UsageError } from '../../cli-errors.js';
import { connect } from '../../connect.js';
import type { GlobalArgs } from '../../global-options.js';
import { durationFlag } from '../../duration-flag.js';
import { followUntilFinal, restoreStatus } from '../../backup/follow.js';
import { waitWithProgress, WaitTimeoutError } from '../../output/wait-progress.js';

export interface RestoreArgs extends GlobalArgs {
  backup: string;
  vm?: string[];
  as?: string;
  existing: 'Skip' | 'Fail';
  wait: boolean;
  timeout?: string;
}

export function restoreManifest(args: Pick<RestoreArgs, 'backup' | 'vm' | 'as' | 'existing'>, backup: Backup): Manifest<Restore> {
  const vms = args.vm?.length ? args.vm : (backup.status?.vms ?? []).map((v) => v.name);
  if (args.as !== undefined && vms.length !== 1)
    throw new UsageError(`--as renames one virtual machine, and backup ${args.backup} holds ${vms.length}: choose one with --vm`);
  return {
    apiVersion: 'shoal.dev/v1alpha1',
    kind: 'Restore',
    metadata: { generateName: `${args.backup.slice(0, 52).replace(/[.-]+$/, '')}-` },
    spec: {
      backupName: args.backup,
      ...(args.vm?.length ? { vmNames: args.vm } : {}),
      ...(args.as !== undefined ? { renames: [{ from: vms[0]!, to: args.as }] } : {}),
      existingPolicy: args.existing,
    },
  };
}

export async function restore(args: RestoreArgs): Promise<void> {
  const timeoutMs = args.timeout !== undefined ? durationFlag('--timeout', args.timeout) : undefined;
  const { client, settings } = await connect(args);
  const namespace = settings.namespace;
  const backup = await client.get<Backup>('backup', args.backup, { namespace });
  const created = await client.create<Restore>('restore', restoreManifest(args, backup), { namespace });
  if (!args.wait) {
    process.stdout.write(`restore.shoal.dev/${created.metadata.name} created\n`);
    return;
  }
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  const end = await waitWithProgress({ subject: `restore ${created.metadata.name}`, timeoutMs, signal: stop.signal }, (progress, signal) =>
    followUntilFinal(client, 'restore', created, async (r) => restoreStatus(r), progress, signal),
  ).catch((err: unknown) => {
    if (!(err instanceof WaitTimeoutError)) throw err;
    process.stderr.write(`error: ${err.message}; the restore goes on (shoalctl get restore ${created.metadata.name} -o yaml)\n`);
    throw new ExitError(1);
  });
  const phase = end.status?.phase;
  if (!phase || phase === 'New' || phase === 'InProgress') {
    process.stderr.write(`stopped following restore ${end.metadata.name}; it goes on (shoalctl get restore ${end.metadata.name} -o yaml)\n`);
    throw new ExitError(130);
  }
  const lines = (end.status?.items ?? []).map(
    (i) => `${i.kind.toLowerCase()}/${i.name}${i.from !== i.name ? ` (from ${i.from})` : ''}: ${i.result}${i.message ? `: ${i.message}` : ''}`,
  );
  if (phase === 'Completed') {
    process.stdout.write(`restore.shoal.dev/${end.metadata.name} completed\n${lines.map((l) => `  ${l}\n`).join('')}`);
    return;
  }
  process.stderr.write(
    `restore ${end.metadata.name} ${phase}${end.status?.message ? `: ${end.status.message}` : ''}\n${lines.map((l) => `  ${l}\n`).join('')}`,
  );
  throw new ExitError(1);
}
