/**
 * `describe`: the object plus the Events about it. The server cannot select events by
 * involvedObject, so they are listed for the namespace and matched here.
 */
import { eventsAbout, type Event, type KindInfo, type KubeObject, type Migration, type VirtualMachine } from '@shoal/api';
import { resolveKind, type ShoalClient } from '@shoal/client';
import { connect } from '../../connect.js';
import type { GlobalArgs } from '../../global-options.js';
import { renderMigration } from './migration.js';
import { renderVirtualMachine } from './virtual-machine.js';
import { renderDescription } from './render.js';

type Renderer = (kind: KindInfo, obj: KubeObject, events: Event[] | Error) => string;

/** Kinds with a description of their own; every other kind is shown as metadata, spec and status. */
const RENDERERS: Partial<Record<string, Renderer>> = {
  Migration: (kind, obj, events) => renderMigration(kind, obj as Migration, events),
  VirtualMachine: (kind, obj, events) => renderVirtualMachine(kind, obj as VirtualMachine, events),
};

export interface DescribeArgs extends GlobalArgs {
  kind: string;
  name: string;
}

export async function describe(args: DescribeArgs): Promise<void> {
  const kind = resolveKind(args.kind);
  const { client, settings } = await connect(args);
  try {
    const namespace = kind.namespaced ? settings.namespace : undefined;
    const obj = await client.get(kind, args.name, { namespace });
    const events = await listEvents(client, kind, obj);
    const render = RENDERERS[kind.kind] ?? renderDescription;
    process.stdout.write(render(kind, obj, events));
  } finally {
    await client.close();
  }
}

/** Events about obj; an error reading them is shown in their place, the object is still worth seeing. */
async function listEvents(client: ShoalClient, kind: KindInfo, obj: KubeObject): Promise<Event[] | Error> {
  try {
    // Events about cluster-scoped objects live in some namespace too ("default" in Kubernetes): look everywhere.
    const list = await client.listAll<Event>('Event', { namespace: kind.namespaced ? obj.metadata.namespace : undefined });
    return eventsAbout(list.items, kind, obj);
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}
