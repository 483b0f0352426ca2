/**
 * The namespace controller end to end: a real etcd, apiserver and controller-manager process
 * (only `--controllers namespace`). The apiserver only marks a deleted namespace Terminating;
 * everything after that is this controller's, through the API.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, findCondition, NAMESPACE_FINALIZER, type ClusterRole, type Namespace, type VirtualMachine } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import { waitFor } from '@shoal/testing';
import { refusals, withSystemCluster } from '../test-support/system-cluster.js';
import { NAMESPACE_COMPONENT } from './controller.js';

/** A finalizer no component of this cluster owns: only the test lifts it. */
const HELD_BY_NOBODY = 'example.com/held-by-nobody';

const vm = (name: string, finalizers?: string[]): VirtualMachine =>
  ({ metadata: { name, ...(finalizers ? { finalizers } : {}) }, spec: { runStrategy: 'Halted', resources: { vcpus: 1, memoryMiB: 64 } } }) as VirtualMachine;

/** A namespace with VMs (one held by a finalizer nobody lifts), a Lease, a Role and a quota. */
async function populate(client: ShoalClient, ns: string): Promise<void> {
  await client.create('namespace', { metadata: { name: ns }, spec: {} });
  await client.create('vm', vm('plain'), { namespace: ns });
  await client.create('vm', vm('other'), { namespace: ns });
  await client.create('vm', vm('guarded', [HELD_BY_NOBODY]), { namespace: ns });
  await client.create('lease', { metadata: { name: 'lock' }, spec: { holderIdentity: 'x' } }, { namespace: ns });
  await client.create(
    'role',
    { metadata: { name: 'reader' }, rules: [{ apiGroups: ['shoal.dev'], resources: ['virtualmachines'], verbs: ['get'] }] },
    { namespace: ns },
  );
  await client.create('resourcequota', { metadata: { name: 'compute' }, spec: { hard: { vcpus: 10 } } }, { namespace: ns });
}

const gone = (client: ShoalClient, kind: string, name: string, namespace?: string) =>
  client.get(kind, name, { namespace }).then(
    () => false,
    (err) => err instanceof ApiError && err.code === 404,
  );

const names = async (client: ShoalClient, kind: string, namespace: string) => (await client.list(kind, { namespace })).items.map((o) => o.metadata.name).sort();

/** What is left in a namespace, of the kinds populate() creates: `virtualmachines: guarded`. */
async function contents(client: ShoalClient, namespace: string): Promise<string> {
  const left = await Promise.all(['virtualmachines', 'leases', 'roles', 'resourcequotas'].map(async (k) => [k, await names(client, k, namespace)] as const));
  return left
    .filter(([, n]) => n.length)
    .map(([k, n]) => `${k}: ${n.join(',')}`)
    .join('; ');
}

async function liftFinalizer(client: ShoalClient, ns: string): Promise<void> {
  await client.patch('vm', 'guarded', { metadata: { finalizers: null } }, { type: 'merge', namespace: ns });
}

test('a deleted namespace is emptied through the normal delete; one VM held by a finalizer keeps it Terminating, saying why, until the finalizer goes', async () => {
  await withSystemCluster({ controllers: ['namespace'] }, async ({ client, cm }) => {
    await populate(client, 'team');
    await populate(client, 'bystander');
    const deleting = await client.delete<Namespace>('namespace', 'team');
    assert.equal(deleting.status?.phase, 'Terminating');
    assert.deepEqual(deleting.metadata.finalizers, [NAMESPACE_FINALIZER]);

    // Everything without a finalizer goes; the held VM is being deleted, and says so.
    await waitFor(async () => (await contents(client, 'team')) === 'virtualmachines: guarded' || undefined, { message: 'only guarded left in team' });
    assert.ok((await client.get<VirtualMachine>('vm', 'guarded', { namespace: 'team' })).metadata.deletionTimestamp, 'guarded is being deleted');

    const waiting = await waitFor(
      async () => {
        const ns = await client.get<Namespace>('namespace', 'team');
        return findCondition(ns.status?.conditions, 'NamespaceFinalizersRemaining')?.status === 'True' ? ns : undefined;
      },
      { message: 'team saying which finalizers it waits for' },
    );
    assert.equal(waiting.status?.phase, 'Terminating');
    const condition = (type: string) => {
      const c = findCondition(waiting.status?.conditions, type);
      return c && { status: c.status, reason: c.reason, message: c.message };
    };
    assert.deepEqual(condition('NamespaceFinalizersRemaining'), {
      status: 'True',
      reason: 'SomeFinalizersRemain',
      message: `Some content in the namespace has finalizers remaining: ${HELD_BY_NOBODY} in 1 resource instances`,
    });
    assert.deepEqual(condition('NamespaceContentRemaining'), {
      status: 'True',
      reason: 'SomeResourcesRemain',
      message: 'Some resources are remaining: virtualmachines.shoal.dev has 1 resource instances',
    });
    assert.equal(condition('NamespaceDeletionContentFailure')?.status, 'False');
    // An Event, where `shoalctl describe namespace team` shows it (a cluster-scoped object's Events are in default).
    const event = await waitFor(async () =>
      (await client.list<any>('event', { namespace: 'default' })).items.find(
        (e) => e.involvedObject.name === 'team' && e.reason === 'NamespaceFinalizersRemaining',
      ),
    );
    assert.equal(event.source.component, NAMESPACE_COMPONENT);
    assert.match(event.message, /namespace team waits for finalizers: .*example\.com\/held-by-nobody in 1 resource instances/);

    // Whoever owns the finalizer lets go: the VM goes, then the namespace.
    await liftFinalizer(client, 'team');
    await waitFor(() => gone(client, 'namespace', 'team'), { message: 'namespace team gone' });
    assert.equal(await gone(client, 'vm', 'guarded', 'team'), true);

    // A namespace nobody deleted is left as it was; a built-in one cannot be deleted at all.
    assert.deepEqual(await names(client, 'vm', 'bystander'), ['guarded', 'other', 'plain']);
    assert.equal((await client.get<VirtualMachine>('vm', 'guarded', { namespace: 'bystander' })).metadata.deletionTimestamp, undefined);
    await assert.rejects(client.delete('namespace', 'default'), (err) => err instanceof ApiError && err.code === 403);
    assert.deepEqual(refusals(cm!), []);
  });
});

test('the controller killed mid-way resumes when it is back, also for a namespace deleted while it was down', async () => {
  await withSystemCluster({ controllers: ['namespace'] }, async (c) => {
    const { client } = c;
    await populate(client, 'first');
    await client.delete('namespace', 'first');
    await waitFor(async () => (await names(client, 'vm', 'first')).join() === 'guarded' || undefined, { message: 'first emptied but for guarded' });

    // Mid-way: its VMs deleted but the held one (the other kinds perhaps not yet), the namespace
    // waiting. Killed, not stopped: nothing is finished off on the way out.
    await c.cm!.kill();
    await liftFinalizer(client, 'first');
    await populate(client, 'second');
    await client.delete('namespace', 'second');
    // With no controller running, nothing happens to either: the apiserver does not empty namespaces.
    assert.equal((await client.get<Namespace>('namespace', 'first')).status?.phase, 'Terminating');
    assert.deepEqual(await names(client, 'vm', 'second'), ['guarded', 'other', 'plain']);

    await c.startControllerManager();
    await waitFor(() => gone(client, 'namespace', 'first'), { message: 'namespace first finalized by the restarted controller' });
    await waitFor(async () => (await contents(client, 'second')) === 'virtualmachines: guarded' || undefined, { message: 'second emptied but for guarded' });
    await liftFinalizer(client, 'second');
    await waitFor(() => gone(client, 'namespace', 'second'), { message: 'namespace second gone' });
  });
});

test('run as system:shoal:namespace (--controller-tokens-dir), its deletes, status, Event and finalizer patch are authorized and audited under that name', async () => {
  await withSystemCluster({ controllers: ['namespace'], secured: true }, async ({ client, cm, audit }) => {
    await populate(client, 'audited');
    await client.delete('namespace', 'audited');
    await waitFor(
      async () => findCondition((await client.get<Namespace>('namespace', 'audited')).status?.conditions, 'NamespaceFinalizersRemaining')?.status === 'True',
      {
        message: 'audited waiting for its held VM',
      },
    );
    await liftFinalizer(client, 'audited');
    await waitFor(() => gone(client, 'namespace', 'audited'), { message: 'namespace audited gone' });

    const mine = await waitFor(
      async () => {
        const entries = (await audit()).filter((e) => e.user === 'system:shoal:namespace');
        const did = (verb: string, resource: string, subresource?: string) =>
          entries.some((e) => e.verb === verb && e.resource === resource && e.subresource === subresource);
        return did('patch', 'namespaces') && did('patch', 'namespaces', 'status') && did('create', 'events') ? entries : undefined;
      },
      { message: "the namespace controller's conditions, Event and finalizer patch in the audit log" },
    );
    const deleted = mine
      .filter((e) => e.verb === 'delete' && e.namespace === 'audited')
      .map((e) => `${e.resource}/${e.name}`)
      .sort();
    assert.deepEqual(deleted, [
      'leases/lock',
      'resourcequotas/compute',
      'roles/reader',
      'virtualmachines/guarded',
      'virtualmachines/other',
      'virtualmachines/plain',
    ]);
    // (A 409 would be optimistic concurrency at work, not a refusal.)
    assert.deepEqual(
      mine.filter((e) => e.code === 401 || e.code === 403),
      [],
      'nothing it asked for was refused',
    );
    assert.deepEqual(refusals(cm!), [], 'its role allows all it does');
  });
});

test('a namespace whose contents cannot be deleted says why (condition and Warning Event), and is emptied once the controller may', async () => {
  await withSystemCluster({ controllers: ['namespace'], secured: true }, async ({ client }) => {
    // An administrator narrows the controller's role: Leases are no longer among what it may list
    // and delete (as with a kind added after the role was written: bootstrap roles are not rewritten).
    const role = await client.get<ClusterRole>('clusterrole', 'system:shoal:namespace');
    const narrowed = structuredClone(role);
    for (const rule of narrowed.rules ?? []) if (rule.verbs.includes('delete')) rule.resources = rule.resources?.filter((r) => r !== 'leases');
    await client.update('clusterrole', narrowed);

    await client.create('namespace', { metadata: { name: 'stuck' }, spec: {} });
    await client.create('vm', vm('plain'), { namespace: 'stuck' });
    await client.create('lease', { metadata: { name: 'lock' }, spec: { holderIdentity: 'x' } }, { namespace: 'stuck' });
    await client.delete('namespace', 'stuck');

    const failure = await waitFor(
      async () => {
        const c = findCondition((await client.get<Namespace>('namespace', 'stuck')).status?.conditions, 'NamespaceDeletionContentFailure');
        return c?.status === 'True' ? c : undefined;
      },
      { message: 'stuck saying its contents cannot be deleted' },
    );
    assert.equal(failure.reason, 'ContentDeletionFailed');
    assert.match(
      failure.message!,
      /^Failed to delete all resource types, 1 remaining: list leases: .*User "system:shoal:namespace" cannot list resource "leases"/,
    );
    const event = await waitFor(async () =>
      (await client.list<any>('event', { namespace: 'default' })).items.find(
        (e) => e.involvedObject.name === 'stuck' && e.reason === 'NamespaceDeletionContentFailure',
      ),
    );
    assert.equal(event.type, 'Warning');
    assert.match(event.message, /namespace stuck cannot be emptied: Failed to delete all resource types/);
    // What it may delete, it did; the rest waits.
    assert.deepEqual(await contents(client, 'stuck'), 'leases: lock');

    // The role put back, the retry (with backoff) finishes the job.
    await client.update('clusterrole', {
      ...role,
      metadata: { ...role.metadata, resourceVersion: (await client.get('clusterrole', 'system:shoal:namespace')).metadata.resourceVersion },
    });
    await waitFor(() => gone(client, 'namespace', 'stuck'), { timeoutMs: 30_000, message: 'namespace stuck gone once the role allows it' });
  });
});
