/**
 * `admin snapshot save FILE`: etcd's snapshot, streamed by the apiserver (only it talks to etcd),
 * written to FILE atomically (etcd-snapshot/write-snapshot.ts), with progress in bytes on stderr.
 * Before FILE is replaced the copy is checked twice: etcd's sha256 at its end, and
 * `etcdctl snapshot status` reading the database (skipped, and said, where etcdctl is not
 * installed). A user without the right gets the server's 403 and no file.
 */
import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { UsageError } from '../../cli-errors.js';
import { connect } from '../../connect.js';
import type { GlobalArgs } from '../../global-options.js';
import { MissingToolError, snapshotStatus, type SnapshotStatus } from '../../etcd-snapshot/etcd-tools.js';
import { writeSnapshotFile } from '../../etcd-snapshot/write-snapshot.js';
import { formatBytes, formatDuration, RateMeter } from '../../output/progress.js';
import { bytesProgressText, ProgressLine } from '../../output/progress-line.js';

export interface SnapshotSaveArgs extends GlobalArgs {
  file: string;
}

const SIGNAL_EXIT_CODES: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 130, SIGTERM: 143 };

export async function snapshotSave(args: SnapshotSaveArgs): Promise<void> {
  const target = resolve(args.file);
  const existing = await stat(target).catch(() => undefined);
  if (existing?.isDirectory()) throw new UsageError(`${args.file} is a directory: give the snapshot's file name`);
  if (!(await stat(dirname(target)).catch(() => undefined))?.isDirectory()) throw new UsageError(`the directory ${dirname(target)} does not exist`);

  const { client } = await connect(args);
  const stop = new AbortController();
  let stoppedBy: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    stoppedBy = signal;
    stop.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const progress = new ProgressLine(process.stderr);
  const meter = new RateMeter();
  const started = Date.now();
  let status: SnapshotStatus | undefined;
  let etcdctlMissing = false;
  try {
    const snapshot = await client.etcdSnapshot({ signal: stop.signal });
    const { bytes } = await writeSnapshotFile(target, snapshot.body, {
      source: `the snapshot from ${client.server}`,
      expectedBytes: snapshot.expectedBytes,
      onProgress: (received) => {
        meter.add(Date.now(), received);
        progress.update(bytesProgressText('snapshot', received, snapshot.expectedBytes, meter));
      },
      check: async (path) => {
        try {
          status = await snapshotStatus(path);
        } catch (err) {
          if (!(err instanceof MissingToolError))
            throw new Error(`the snapshot's sha256 is right but etcdctl cannot read it, so it was not kept: ${(err as Error).message}`);
          etcdctlMissing = true;
        }
      },
    });
    progress.done(`snapshot: ${formatBytes(bytes)} received in ${formatDuration(Date.now() - started)}`);
    const facts = [formatBytes(bytes), ...(status ? [`revision ${status.revision}`, `${status.totalKey} keys`] : []), 'sha256 verified'];
    process.stdout.write(`Snapshot saved to ${args.file}: ${facts.join(', ')}\n`);
    if (etcdctlMissing) process.stderr.write(`note: etcdctl is not installed here (Debian's etcd-client), so the database itself was not read back\n`);
  } catch (err) {
    if (!stoppedBy) throw err;
    process.stderr.write(`\ninterrupted: ${args.file} was not written\n`);
    process.exitCode = SIGNAL_EXIT_CODES[stoppedBy] ?? 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await client.close();
  }
}
