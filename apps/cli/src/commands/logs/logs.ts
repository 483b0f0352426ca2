/**
 * `logs`: the VM's console as the apiserver relays it from the node agent, written to stdout as
 * it arrives. With -f it runs until the stream ends, Ctrl-C (or SIGTERM), or stdout goes away
 * (`shoalctl logs -f vm | head`); each of those ends the HTTP request, which ends the agent's.
 */
import { once } from 'node:events';
import { resolveKind } from '@shoal/client';
import { UsageError } from '../../cli-errors.js';
import { connect } from '../../connect.js';
import type { GlobalArgs } from '../../global-options.js';
import { vmNameFromReference } from '../../vm/vm-reference.js';

export interface LogsArgs extends GlobalArgs {
  vm: string;
  follow: boolean;
  tail: number;
}

const SIGNAL_EXIT_CODES: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 130, SIGTERM: 143 };

export async function logs(args: LogsArgs): Promise<void> {
  const name = vmNameFromReference('logs', args.vm);
  if (!Number.isInteger(args.tail) || args.tail < -1) throw new UsageError(`--tail must be a whole number of lines (-1 for all), got ${args.tail}`);
  const kind = resolveKind('VirtualMachine');
  const { client, settings } = await connect(args);

  const stop = new AbortController();
  let stoppedBy: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    stoppedBy = signal;
    stop.abort();
  };
  let stdoutError: NodeJS.ErrnoException | undefined;
  const onStdoutError = (err: NodeJS.ErrnoException) => {
    // EPIPE: the reader left (`| head`); nothing more to print, and not an error of ours.
    if (err.code !== 'EPIPE') stdoutError = err;
    stop.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.stdout.on('error', onStdoutError);
  try {
    const chunks = client.logs(kind, name, {
      namespace: settings.namespace,
      follow: args.follow,
      tailLines: args.tail >= 0 ? args.tail : undefined,
      signal: stop.signal,
    });
    for await (const text of chunks) {
      if (!process.stdout.write(text)) await drained(stop.signal);
    }
    if (stdoutError) throw stdoutError;
    if (stoppedBy) process.exitCode = SIGNAL_EXIT_CODES[stoppedBy] ?? 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.stdout.off('error', onStdoutError);
    await client.close();
  }
}

/** Waits for stdout to take more, so a slow reader slows the stream instead of filling memory. */
async function drained(signal: AbortSignal): Promise<void> {
  try {
    await once(process.stdout, 'drain', { signal });
  } catch (err) {
    if (!signal.aborted) throw err;
  }
}
