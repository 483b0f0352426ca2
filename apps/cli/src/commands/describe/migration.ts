/**
 * `describe migration`: what a person asks of a move — which VM, how, from where to where, how
 * far it got, how long each step took and how long the guest was paused — rather than the
 * status as YAML. The policy is spelled out with its defaults, since they decide when a live
 * migration gives up.
 */
import type { Event, KindInfo, Migration, MigrationFailure, MigrationPhaseTransition, MigrationStatus } from '@shoal/api';
import { isTerminal, remainingBytes } from '../../migration/migration-status.js';
import { formatBytes, formatDuration, fractionDone } from '../../output/progress.js';
import { conditionLines, indentedTable, labelled, metadataLines, renderEvents } from './render.js';

export function renderMigration(kind: KindInfo, m: Migration, events: Event[] | Error, now = Date.now()): string {
  const s: MigrationStatus = m.status ?? {};
  const lines = metadataLines(kind, m, now);
  const field = (label: string, value: string) => lines.push(labelled(label, value));

  field('VM', m.spec.vmName);
  field('Mode', s.mode && s.mode !== m.spec.mode ? `${s.mode} (fell back from ${m.spec.mode})` : (s.mode ?? m.spec.mode));
  field('Nodes', `${s.sourceNode ?? '<unknown>'} → ${s.targetNode ?? m.spec.targetNode ?? '<not chosen yet>'}`);
  field('Phase', s.phase ?? 'Pending');
  if (s.reason) field('Reason', s.reason);
  if (s.message) field('Message', s.message);
  field('Transferred', transferred(s));
  field(
    'Downtime',
    s.downtimeMs !== undefined
      ? `${s.downtimeMs} ms${s.source?.qemuDowntimeMs !== undefined ? ` (QEMU paused the source ${s.source.qemuDowntimeMs} ms)` : ''}`
      : '<none>',
  );
  field('Policy', policy(m));
  field(
    'Source',
    side(
      s.sourceNode,
      [
        ['started', s.source?.startedAt],
        ['completed', s.source?.completedAt],
        ['resumed', s.source?.resumedAt],
      ],
      s.source?.failure,
    ),
  );
  field(
    'Target',
    side(
      s.targetNode,
      [
        ['ready', s.target?.readyAt],
        ['resumed', s.target?.resumedAt],
      ],
      s.target?.failure,
    ),
  );
  lines.push(...phaseLines(s.phaseTransitions, isTerminal(s.phase), now));
  lines.push(...conditionLines(s.conditions, now));
  lines.push(...renderEvents(events, now));
  return `${lines.join('\n')}\n`;
}

/** `48.0 MiB/256.0 MiB (18%), 208.0 MiB to go`, or `<none>` before the transfer. */
function transferred(s: MigrationStatus): string {
  if (s.totalBytes === undefined && s.transferredBytes === undefined) return '<none>';
  const done = s.transferredBytes ?? 0;
  if (s.totalBytes === undefined) return formatBytes(done);
  const pct = Math.floor((fractionDone(done, s.totalBytes) ?? 0) * 100);
  const left = isTerminal(s.phase) ? undefined : remainingBytes(s);
  return `${formatBytes(done)}/${formatBytes(s.totalBytes)} (${pct}%)${left ? `, ${formatBytes(left)} to go` : ''}`;
}

function policy(m: Migration): string {
  const p = m.spec.policy ?? {};
  const parts = [
    `bandwidth ${p.bandwidthMiBps !== undefined ? `${p.bandwidthMiBps} MiB/s` : 'unlimited'}`,
    `max downtime ${p.maxDowntimeMs ?? 300} ms`,
    `give up after ${p.completionTimeoutPerGiBSeconds ?? 150} s per GiB`,
    `auto-converge ${p.autoConverge === false ? 'off' : 'on'}`,
  ];
  if (m.spec.allowColdFallback) parts.push('cold fallback allowed');
  return parts.join(', ');
}

/** `node-a: started 2024-…Z, completed 2024-…Z; failed: SourceFailed: …`, or `<none>` while nothing is known. */
function side(node: string | undefined, times: [string, string | undefined][], failure: MigrationFailure | undefined): string {
  const parts = times.filter(([, t]) => t).map(([what, t]) => `${what} ${t}`);
  const failed = failure ? `failed: ${failure.reason}${failure.message ? `: ${failure.message}` : ''}` : '';
  const text = [parts.join(', '), failed].filter(Boolean).join('; ');
  if (!node) return text || '<none>';
  return text ? `${node}: ${text}` : node;
}

/** A Phases table: when each phase began and how long it lasted (the current one: so far). */
function phaseLines(transitions: MigrationPhaseTransition[] | undefined, ended: boolean, now: number): string[] {
  if (!transitions?.length) return [labelled('Phases', '<none>')];
  const rows = transitions.map((t, i) => {
    const next = transitions[i + 1];
    const began = Date.parse(t.time);
    let lasted: string;
    if (next) lasted = formatDuration(Date.parse(next.time) - began);
    else if (ended) lasted = '';
    else lasted = `${formatDuration(now - began)} so far`;
    return [t.phase, t.time, lasted];
  });
  return ['Phases:', indentedTable([['Phase', 'Began', 'Lasted'], ...rows])];
}
