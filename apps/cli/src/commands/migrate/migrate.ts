/**
 * `migrate`: create a Migration for the VM (named `<vm>-` plus five random characters by the
 * server, from generateName) and follow it until it ends (follow.ts): exit 0 with one line on
 * stdout when it succeeds, 1 with its reason on stderr when it fails or is aborted. Whether the
 * target node exists and may take the VM is the migration controller's to decide — it fails the
 * Migration with a reason, which is shown like any other. Ctrl-C stops following, not the
 * Migration: deleting it is what aborts it, and that is left to the person, who is told how.
 */
import type { Manifest, Migration, MigrationPolicy, VirtualMachine } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import { ExitError, UsageError } from '../../cli-errors.js';
import { connect } from '../../connect.js';
import { durationFlag } from '../../duration-flag.js';
import type { GlobalArgs } from '../../global-options.js';
import { phaseOf } from '../../migration/migration-status.js';
import { vmNameFromKindAndName } from '../../vm/vm-reference.js';
import { waitWithProgress, WaitTimeoutError } from '../../output/wait-progress.js';
import { followMigration } from './follow.js';
import { interruptedMessage, outcome } from './status-lines.js';

export interface MigrateArgs extends GlobalArgs {
  kind: string;
  name?: string;
  to?: string;
  cold: boolean;
  allowColdFallback?: boolean;
  bandwidth?: number;
  maxDowntime?: number;
  wait: boolean;
  timeout?: string;
}

const SIGNAL_EXIT_CODES: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 130, SIGTERM: 143 };

/** Kubernetes' limit on a generateName prefix, so the generated name stays a DNS label. */
const MAX_PREFIX = 58;

export function migrationManifest(
  vmName: string,
  args: Pick<MigrateArgs, 'to' | 'cold' | 'allowColdFallback' | 'bandwidth' | 'maxDowntime'>,
): Manifest<Migration> {
  if (args.to !== undefined && args.to.trim() === '') throw new UsageError('--to: give the name of a node');
  const positive = (flag: string, v: number | undefined) => {
    if (v !== undefined && !(Number.isInteger(v) && v >= 1)) throw new UsageError(`${flag} must be a whole number ≥ 1, got ${v}`);
  };
  positive('--bandwidth', args.bandwidth);
  positive('--max-downtime', args.maxDowntime);
  // A cold migration stops the guest: its downtime is the whole copy, nothing a limit could hold.
  if (args.cold && args.maxDowntime !== undefined) throw new UsageError('--max-downtime applies to live migration only, not with --cold');
  if (args.cold && args.allowColdFallback)
    throw new UsageError('--allow-cold-fallback is for a live migration: with --cold there is nothing to fall back from');
  const policy: Manifest<MigrationPolicy> = {};
  if (args.bandwidth !== undefined) policy.bandwidthMiBps = args.bandwidth;
  if (args.maxDowntime !== undefined) policy.maxDowntimeMs = args.maxDowntime;
  const prefix = `${vmName.slice(0, MAX_PREFIX - 1).replace(/[.-]+$/, '')}-`;
  return {
    apiVersion: 'shoal.dev/v1alpha1',
    kind: 'Migration',
    metadata: { generateName: prefix },
    spec: {
      vmName,
      ...(args.to !== undefined ? { targetNode: args.to } : {}),
      mode: args.cold ? 'Cold' : 'Live',
      ...(args.allowColdFallback ? { allowColdFallback: true } : {}),
      policy,
    },
  };
}

export async function migrate(args: MigrateArgs): Promise<void> {
  const vmName = vmNameFromKindAndName('migrate', args.kind, args.name);
  const manifest = migrationManifest(vmName, args);
  const timeoutMs = args.timeout !== undefined ? durationFlag('--timeout', args.timeout) : undefined;
  const { client, settings } = await connect(args);
  const namespace = settings.namespace;
  try {
    // A VM that does not exist is the user's mistake to hear about now, not a Migration to fail later.
    const vm = await client.get<VirtualMachine>('vm', vmName, { namespace });
    const created = await client.create<Migration>('Migration', manifest, { namespace });
    if (!args.wait) {
      process.stdout.write(`migration.shoal.dev/${created.metadata.name} created\n`);
      return;
    }
    await follow(client, created, namespace, vm.spec.nodeName, timeoutMs);
  } finally {
    await client.close();
  }
}

async function follow(client: ShoalClient, created: Migration, namespace: string, sourceHint: string | undefined, timeoutMs?: number): Promise<void> {
  const stop = new AbortController();
  let stoppedBy: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    stoppedBy = signal;
    stop.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const end = await waitWithProgress({ subject: `migration ${created.metadata.name}`, timeoutMs, signal: stop.signal }, (progress, signal) =>
      followMigration(client, created, progress, signal),
    ).catch((err: unknown) => {
      if (!(err instanceof WaitTimeoutError)) throw err;
      process.stderr.write(interruptedMessage(created, namespace, `error: ${err.message}; the migration goes on.`));
      throw new ExitError(1);
    });
    if ('stopped' in end) {
      process.stderr.write(interruptedMessage(end.stopped, namespace));
      throw new ExitError(SIGNAL_EXIT_CODES[stoppedBy ?? 'SIGINT'] ?? 1);
    }
    if ('deleted' in end) {
      process.stderr.write(`error: migration ${created.metadata.name} was deleted before it ended (last seen: ${phaseOf(end.deleted)})\n`);
      throw new ExitError(1);
    }
    const result = outcome(end.ended, sourceHint);
    if (result.stderr) process.stderr.write(result.stderr);
    if (result.stdout) process.stdout.write(result.stdout);
    if (result.exitCode !== 0) throw new ExitError(result.exitCode);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
