/**
 * What `migrate` says about a Migration, from plain objects: its progress (the phase and bytes
 * a log gets, and a bar for a terminal) and the last word once the Migration ends. Pure, so
 * every wording is tested without a cluster.
 */
import type { Migration, MigrationFailure } from '@shoal/api';
import { bytesText, phaseOf, remainingBytes } from '../../migration/migration-status.js';
import { eta, fitToWidth, formatRate, formatSeconds, fractionDone, progressBar } from '../../output/progress.js';
import type { WaitStatus } from '../../output/wait-progress.js';

/** What the wait shows: off a terminal `migration web-x7k2p: Running 48.0 MiB/256.0 MiB` at each phase, on one the bar line. */
export function migrationStatus(m: Migration, rate: number | undefined): WaitStatus {
  const bytes = bytesText(m.status);
  return {
    phase: phaseOf(m),
    ...(bytes ? { detail: bytes } : {}),
    terminalLine: (elapsedMs, columns) => barLine(m, { rate, elapsedMs, columns }),
  };
}

export interface BarLineOptions {
  /** Bytes per second, when measured. */
  rate?: number;
  /** Since the command began following. */
  elapsedMs: number;
  /** The terminal's width; the line is cut to it. */
  columns?: number;
}

/**
 * The line a terminal gets, redrawn in place:
 * `web-x7k2p Running  [=====>    ]  48.0 MiB/256.0 MiB  18%  12.0 MiB/s  ETA 18s`; before the
 * rate is known, how long the command has followed it instead of rate and ETA. The bar takes
 * the room the rest leaves, and is left out when there is too little.
 */
export function barLine(m: Migration, opts: BarLineOptions): string {
  const status = m.status;
  const phase = phaseOf(m);
  const head = `${m.metadata.name} ${phase}`;
  const fraction = fractionDone(status?.transferredBytes ?? 0, status?.totalBytes);
  const tail: string[] = [];
  const bytes = bytesText(status);
  if (bytes) tail.push(bytes);
  if (fraction !== undefined) tail.push(`${Math.floor(fraction * 100)}%`);
  if (phase === 'Running' && opts.rate !== undefined) {
    tail.push(formatRate(Math.max(0, opts.rate)));
    const left = eta(remainingBytes(status), opts.rate);
    if (left) tail.push(`ETA ${left}`);
  } else tail.push(formatSeconds(opts.elapsedMs)); // something moves while nothing else does
  const rest = tail.join('  ');
  const columns = opts.columns || 80;
  // What is left for the bar between "head  " and "  rest", less its brackets and a spare column;
  // measured against a typical tail rather than this one, so the bar does not jump as figures change.
  const width = Math.min(BAR_MAX, columns - 1 - head.length - Math.max(rest.length, TAIL_RESERVE) - 6);
  if (fraction === undefined || width < BAR_MIN) return fitToWidth(`${head}  ${rest}`, columns);
  return `${head}  ${progressBar(fraction, width)}  ${rest}`;
}

const BAR_MIN = 8;
const BAR_MAX = 40;
/** `120.0 MiB/256.0 MiB  46%  39.5 MiB/s  ETA 14s`, about. */
const TAIL_RESERVE = 46;

export interface Outcome {
  /** The result, for scripts. */
  stdout?: string;
  /** The failure, or a note about the result. */
  stderr?: string;
  exitCode: number;
}

/** The last word on a Migration that reached a terminal phase. `sourceHint`: the VM's node when the command began. */
export function outcome(m: Migration, sourceHint?: string): Outcome {
  const s = m.status ?? {};
  const name = m.metadata.name;
  if (s.phase === 'Succeeded') {
    const from = s.sourceNode ?? sourceHint ?? '<unknown>';
    const to = s.targetNode ?? m.spec.targetNode ?? '<unknown>';
    const downtime = s.downtimeMs !== undefined ? ` (downtime ${s.downtimeMs} ms)` : '';
    const fellBack =
      s.mode === 'Cold' && m.spec.mode === 'Live'
        ? `note: migration ${name} could not move the guest live and fell back to a cold migration: the guest was restarted on ${to}\n`
        : undefined;
    return { stdout: `virtualmachine/${m.spec.vmName} migrated from ${from} to ${to}${downtime}\n`, stderr: fellBack, exitCode: 0 };
  }
  const what = s.phase === 'Aborted' ? 'was aborted' : 'failed';
  const lines = [`error: migration ${name} ${what}${s.reason ? ` (${s.reason})` : ''}: ${s.message ?? 'no message given'}`];
  const side = (label: string, node: string | undefined, f: MigrationFailure | undefined) => {
    // The controller usually copies one side's failure to the top; say it once.
    if (!f || (f.reason === s.reason && (f.message ?? '') === (s.message ?? ''))) return;
    lines.push(`  ${label}${node ? ` ${node}` : ''}: ${f.reason}${f.message ? `: ${f.message}` : ''}`);
  };
  side('source', s.sourceNode, s.source?.failure);
  side('target', s.targetNode, s.target?.failure);
  return { stderr: `${lines.join('\n')}\n`, exitCode: 1 };
}

/** What a person who stopped following (or whose --timeout passed) needs: the Migration goes on, and how to look at it or stop it. */
export function interruptedMessage(
  m: Migration,
  namespace: string,
  headline = `stopped following migration ${m.metadata.name} (${phaseOf(m)}); the migration goes on.`,
): string {
  const ns = namespace === 'default' ? '' : ` -n ${namespace}`;
  const name = m.metadata.name;
  return [
    headline,
    `  follow it:  shoalctl${ns} get migration ${name} -w    (or: shoalctl${ns} describe migration ${name})`,
    `  abort it:   shoalctl${ns} delete migration ${name}`,
    '',
  ].join('\n');
}

/** How long a Migration may stay Pending before the command says that nothing seems to take it. */
export const PENDING_HINT_AFTER_MS = 30_000;

export function pendingHint(m: Migration, pendingForMs: number): string {
  return `migration ${m.metadata.name} is still Pending after ${formatSeconds(pendingForMs)}: no migration controller has taken it up yet (is shoal-controller-manager running?)`;
}
