/**
 * `events`: the Events of a namespace (or of all, -A), oldest first, optionally only those
 * about one object (--for KIND/NAME) or of some types; with -w, then each new one as it comes.
 * The server cannot select Events by the object they are about, so that filter runs here.
 */
import { byEventTime, isAbout, kinds, type Event, type EventSubject } from '@shoal/api';
import { resolveKind, type ShoalClient } from '@shoal/client';
import { UsageError } from '../../cli-errors.js';
import { connect } from '../../connect.js';
import type { GlobalArgs } from '../../global-options.js';
import { columnWidths, formatColumns, formatRow } from '../../output/columns.js';
import { isTableOutput, parseOutputFormat, type OutputFormat } from '../../output/output-format.js';
import { formatObjects, formatStreamedObject } from '../../output/print-objects.js';
import { listThenWatch } from '../../watch/list-then-watch.js';
import { eventHeader, eventRow } from './event-rows.js';

export interface EventsArgs extends GlobalArgs {
  allNamespaces: boolean;
  for?: string;
  types?: string;
  watch: boolean;
  output: string;
  headers: boolean;
}

const EVENT_TYPES = ['Normal', 'Warning'];

export async function events(args: EventsArgs): Promise<void> {
  const output = parseOutputFormat(args.output);
  const types = eventTypes(args.types);
  const subjectRef = args.for !== undefined ? forReference(args.for) : undefined;
  const { client, settings } = await connect(args);
  // Events about a cluster-scoped object are kept in some namespace ("default"): look in all.
  const namespace = args.allNamespaces || (subjectRef && !subjectRef.kind.namespaced) ? undefined : settings.namespace;
  const subject: EventSubject | undefined = subjectRef && { ...subjectRef, namespace: subjectRef.kind.namespaced ? settings.namespace : undefined };
  const wanted = (e: Event) => (!subject || isAbout(e, subject)) && (!types || types.has(e.type ?? 'Normal'));
  const withNamespace = args.allNamespaces;
  try {
    if (args.watch) return await watchEvents(client, namespace, wanted, { output, headers: args.headers, withNamespace });
    const list = (await client.listAll<Event>('Event', { namespace })).items.filter(wanted).sort(byEventTime);
    if (!isTableOutput(output)) {
      process.stdout.write(formatObjects(eventKind(), list, output, false));
      return;
    }
    if (list.length === 0) {
      process.stderr.write(namespace ? `No events found in ${namespace} namespace.\n` : 'No events found.\n');
      return;
    }
    const now = Date.now();
    const rows = list.map((e) => eventRow(e, now, withNamespace));
    process.stdout.write(formatColumns(args.headers ? [eventHeader(withNamespace), ...rows] : rows));
  } finally {
    await client.close();
  }
}

/** The list, then each Event that is new or happened again, until Ctrl-C; a list after a 410 prints only what was not seen. */
async function watchEvents(
  client: ShoalClient,
  namespace: string | undefined,
  wanted: (e: Event) => boolean,
  { output, headers, withNamespace }: { output: OutputFormat; headers: boolean; withNamespace: boolean },
): Promise<void> {
  const printed = new Set<string>();
  let widths: number[] | undefined;
  const print = (found: Event[]) => {
    const fresh = found.filter((e) => wanted(e) && !printed.has(`${e.metadata.uid}/${e.metadata.resourceVersion}`)).sort(byEventTime);
    for (const e of fresh) printed.add(`${e.metadata.uid}/${e.metadata.resourceVersion}`);
    if (!isTableOutput(output)) {
      for (const e of fresh) process.stdout.write(formatStreamedObject(eventKind(), e, output));
      return;
    }
    const now = Date.now();
    const rows = fresh.map((e) => eventRow(e, now, withNamespace));
    if (!widths) {
      const header = eventHeader(withNamespace);
      widths = columnWidths([header, ...rows]);
      if (headers) process.stdout.write(`${formatRow(header, widths)}\n`);
    }
    for (const row of rows) {
      widths = widths.map((w, i) => Math.max(w, row[i]?.length ?? 0));
      process.stdout.write(`${formatRow(row, widths)}\n`);
    }
  };
  await listThenWatch<Event>(client, eventKind(), { namespace }, { onList: print, onEvent: (ev) => ev.type !== 'DELETED' && print([ev.object]) });
}

function eventKind() {
  return kinds().find('Event')!;
}

/** `vm/web` → the kind and name it names. */
function forReference(text: string): Omit<EventSubject, 'namespace'> {
  const slash = text.indexOf('/');
  if (slash <= 0 || slash === text.length - 1 || text.indexOf('/', slash + 1) >= 0)
    throw new UsageError(`--for must be KIND/NAME, e.g. vm/web (got "${text}")`);
  return { kind: resolveKind(text.slice(0, slash)), name: text.slice(slash + 1) };
}

function eventTypes(text: string | undefined): Set<string> | undefined {
  if (text === undefined) return undefined;
  const types = text.split(',').map((t) => t.trim());
  return new Set(
    types.map((t) => {
      const known = EVENT_TYPES.find((k) => k.toLowerCase() === t.toLowerCase());
      if (!known) throw new UsageError(`--types: "${t}" is not an event type; valid types are ${EVENT_TYPES.join(', ')}`);
      return known;
    }),
  );
}
