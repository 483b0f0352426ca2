/**
 * `place`: the scheduler's decision for one VM, computed here with the scheduler's own code
 * (packages/scheduler) over the cluster as the API shows it now, and — when no node fits — the
 * preemptor's plan. Nothing is written: a manifest is admitted with a server-side dry run (so
 * defaults and the PriorityClass's priority are filled in as they would be), never created.
 */
import { ApiError, objectKey, type KubeObject, type Node, type PlacementPolicy, type VirtualMachine } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import { ClusterState, defaultProfile, planPreemption, schedule } from '@shoal/scheduler';
import { UsageError } from '../../cli-errors.js';
import { connect } from '../../connect.js';
import type { GlobalArgs } from '../../global-options.js';
import { readManifests } from '../../manifests/read-manifests.js';
import { vmNameFromReference } from '../../vm/vm-reference.js';
import { placementReport, renderPlacement } from './render.js';

export interface PlaceArgs extends GlobalArgs {
  vm?: string;
  filename?: string;
  output?: 'text' | 'json';
  allNodes: boolean;
  minPriorityGap: number;
}

export async function place(args: PlaceArgs): Promise<void> {
  const { client, settings } = await connect(args);
  try {
    const vm = args.filename
      ? await admitManifest(client, args.filename, settings.namespace)
      : await client.get<VirtualMachine>('vm', vmNameFromReference('place', args.vm!), { namespace: settings.namespace });
    progress(args, 'reading nodes, VMs and placement policies…');
    const [nodes, vms, policies] = await Promise.all([
      client.listAll<Node>('node'),
      client.listAll<VirtualMachine>('vm'),
      client.listAll<PlacementPolicy>('placementpolicy'),
    ]);
    const state = ClusterState.from(nodes.items, vms.items, policies.items);
    // Judge it as if it were not placed yet (a bound VM: where would it go now?).
    state.removeVm(objectKey(vm.metadata));
    const decision = schedule(vm, state, defaultProfile, { explain: true });
    const preemption = decision.ok ? undefined : planPreemption(vm, state, defaultProfile, { minPriorityGap: args.minPriorityGap });
    const report = placementReport(vm, decision, preemption);
    process.stdout.write(args.output === 'json' ? `${JSON.stringify(report, null, 2)}\n` : renderPlacement(report, { allNodes: args.allNodes }));
  } finally {
    await client.close();
  }
}

async function admitManifest(client: ShoalClient, file: string, namespace: string | undefined): Promise<VirtualMachine> {
  const manifests = (await readManifests([file])).filter((m) => m.object.kind === 'VirtualMachine');
  if (manifests.length !== 1) throw new UsageError(`${file}: expected exactly one VirtualMachine, found ${manifests.length}`);
  const object = manifests[0]!.object as KubeObject;
  const ns = object.metadata?.namespace ?? namespace;
  // dryRun: validated, defaulted and admitted exactly as a create would be, and not stored.
  try {
    return await client.create<VirtualMachine>('vm', object as VirtualMachine, { namespace: ns, dryRun: true });
  } catch (err) {
    if (!(err instanceof ApiError && err.code === 409 && object.metadata?.name)) throw err;
    // A VM of that name exists: judge the manifest under a generated name, then give its own back.
    const { name, ...meta } = object.metadata;
    const admitted = await client.create<VirtualMachine>('vm', { ...object, metadata: { ...meta, generateName: `${name}-` } } as VirtualMachine, {
      namespace: ns,
      dryRun: true,
    });
    return { ...admitted, metadata: { ...admitted.metadata, name } };
  }
}

function progress(args: PlaceArgs, message: string): void {
  if (args.output !== 'json' && process.stderr.isTTY) process.stderr.write(`${message}\r`);
}
