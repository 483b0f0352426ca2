/**
 * reconcile(key) for VMs asked to leave their node (an eviction request: a drain, a
 * preemption) that say evictionStrategy LiveMigrate: one Migration per request, named after it,
 * so a retried or restarted controller never starts a second one for the same request.
 *
 * The rest is not this controller's: the migration controller moves the VM (and the move ends
 * the eviction request), and the VM's agent waits for this Migration instead of shutting the
 * guest down — unless it fails, and then shuts it down as for any eviction.
 */
import { createHash } from 'node:crypto';
import { ApiError, evictionRequestOf, objectKey, type Migration, type VirtualMachine } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import type { EventRecorder, Result } from '@shoal/controller-runtime';

/** Label of the Migrations this controller starts. */
export const EVACUATION_LABEL = 'shoal.dev/evacuation';
/**
 * On the VM: the requestedAt of the eviction request a Migration was started for. One attempt
 * per request: a Migration that failed, or that someone deleted, is not started again (the
 * agent then shuts the guest down, as for any eviction).
 */
export const EVACUATION_STARTED_ANNOTATION = 'shoal.dev/evacuation-started';

export interface EvacuationContext {
  client: ShoalClient;
  vms: { get(key: string): VirtualMachine | undefined };
  migrations: { get(key: string): Migration | undefined };
  recorder: Pick<EventRecorder, 'event'>;
  log: { info(o: object, m: string): void };
}

/** The Migration of one eviction request of one VM: the same name every time it is asked. */
export function evacuationName(vm: VirtualMachine, requestedAt: string): string {
  const digest = createHash('sha256').update(`${vm.metadata.uid}/${requestedAt}`).digest('hex').slice(0, 8);
  return `${vm.metadata.name!.slice(0, 253 - 20)}-evacuation-${digest}`;
}

/** Whether a VM is one this controller starts a Migration for. */
export function wantsEvacuation(vm: VirtualMachine): boolean {
  return (
    vm.spec.evictionStrategy === 'LiveMigrate' &&
    !vm.metadata.deletionTimestamp &&
    !!vm.spec.nodeName &&
    vm.status?.phase === 'Running' &&
    !!evictionRequestOf(vm.metadata)
  );
}

export async function reconcile(ctx: EvacuationContext, key: string): Promise<Result> {
  const vm = ctx.vms.get(key);
  if (!vm || !wantsEvacuation(vm)) return {};
  const request = evictionRequestOf(vm.metadata)!;
  const requestedAt = request.requestedAt ?? '';
  if (vm.metadata.annotations?.[EVACUATION_STARTED_ANNOTATION] === requestedAt) return {};
  const name = evacuationName(vm, requestedAt);
  const namespace = vm.metadata.namespace!;
  if (ctx.migrations.get(objectKey({ namespace, name }))) return markStarted(ctx, vm, requestedAt);
  try {
    await ctx.client.create('migration', {
      apiVersion: 'shoal.dev/v1alpha1',
      kind: 'Migration',
      metadata: { name, namespace, labels: { [EVACUATION_LABEL]: 'true' }, annotations: { 'shoal.dev/eviction-reason': request.reason } },
      spec: { vmName: vm.metadata.name! },
    });
  } catch (err) {
    // Made already: the informer had not seen it yet.
    if (!(err instanceof ApiError && err.code === 409)) throw err;
    return markStarted(ctx, vm, requestedAt);
  }
  const message = `live-migrating it off node ${vm.spec.nodeName} (eviction: ${request.reason}): migration ${name}`;
  ctx.log.info({ vm: key, migration: name }, message);
  ctx.recorder.event(vm, 'Normal', 'Evacuating', message);
  return markStarted(ctx, vm, requestedAt);
}

async function markStarted(ctx: EvacuationContext, vm: VirtualMachine, requestedAt: string): Promise<Result> {
  try {
    await ctx.client.patch(
      'vm',
      vm.metadata.name!,
      { metadata: { annotations: { [EVACUATION_STARTED_ANNOTATION]: requestedAt } } },
      { namespace: vm.metadata.namespace, type: 'merge' },
    );
  } catch (err) {
    if (!(err instanceof ApiError && err.code === 404)) throw err;
  }
  return {};
}
