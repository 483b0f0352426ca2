/**
 * The namespace controller's wiring (STYLE.md 4): deleting a Namespace deletes its contents,
 * then the namespace (reconcile.ts). It used to be a loop inside every apiserver; as a
 * controller it writes through the API like any other, so RBAC (system:shoal:namespace with
 * --controller-tokens-dir) and the audit log apply to its deletes.
 *
 *   Namespace added/updated with a deletionTimestamp → that namespace
 *   (contents)                                        → read by lists while terminating; the
 *                                                       reconcile polls until they are gone
 *
 * The informer's first list enqueues every namespace already terminating, so a restarted
 * controller resumes where the last one stopped.
 */
import { kinds, type Namespace } from '@shoal/api';
import { Controller, type EventHandler } from '@shoal/controller-runtime';
import type { ControllerEnv } from '../controller-env.js';
import { reconcile, type NamespaceContext } from './reconcile.js';

export const NAMESPACE_NAME = 'namespace';
export const NAMESPACE_COMPONENT = 'shoal-namespace-controller';

/** What deleting a namespace deletes: every namespaced kind the API serves, VMs first (they take longest to go). */
export function namespacedKinds() {
  return kinds()
    .all.filter((k) => k.namespaced)
    .sort((a, b) => Number(b.kind === 'VirtualMachine') - Number(a.kind === 'VirtualMachine') || (a.plural < b.plural ? -1 : 1));
}

export function namespaceController(env: ControllerEnv): Controller {
  const log = env.log.child({ controller: NAMESPACE_NAME });
  const namespaces = env.informers.informer<Namespace>('namespace');
  const ctx: NamespaceContext = {
    client: env.client,
    namespaces,
    kinds: namespacedKinds(),
    recorder: env.recorder(NAMESPACE_COMPONENT),
    log,
    now: () => Date.now(),
  };
  const controller = new Controller({ name: NAMESPACE_NAME, workers: 2, registry: env.registry, log, reconcile: (key) => reconcile(ctx, key) });

  const onNamespace: EventHandler<Namespace> = (change) =>
    change.type !== 'delete' && change.object.metadata.deletionTimestamp ? [change.object.metadata.name!] : [];
  return controller.watch(namespaces, onNamespace);
}
