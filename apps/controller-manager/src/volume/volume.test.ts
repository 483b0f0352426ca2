/**
 * The volume controller end to end: a real etcd, apiserver and controller-manager process (only
 * `--controllers volume`), run as its own user system:shoal:volume under RBAC, so every case
 * also proves its role allows what it does. No agent runs: nobody makes files or writes Volume
 * status, and the test plays the agent where a VM's deletion waits for one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AGENT_FINALIZER, VOLUME_PROTECTION_FINALIZER, type Event, type VirtualMachine, type VmVolume, type Volume } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import { waitFor, waitForGone, waitForObject } from '@shoal/testing';
import { refusals, withSystemCluster } from '../test-support/system-cluster.js';
import { VOLUME_COMPONENT } from './controller.js';

/** The machine is small and shared: deadlines are generous, conditions are what is awaited. */
const LONG = { timeoutMs: 60_000 };
const IMAGE = '/var/lib/shoal/images/debian.qcow2';

const blank = (sizeGiB: number, pool?: string) => ({ sizeGiB, source: { blank: {} }, ...(pool ? { pool } : {}) });

function vm(name: string, opts: { volumes?: VmVolume[]; rootDisk?: boolean; finalizers?: string[] } = {}): VirtualMachine {
  return {
    metadata: { name, ...(opts.finalizers ? { finalizers: opts.finalizers } : {}) },
    spec: {
      runStrategy: 'Halted',
      resources: { vcpus: 1, memoryMiB: 64 },
      ...(opts.rootDisk ? { rootDisk: { baseImage: IMAGE, sizeGiB: 4 } } : {}),
      ...(opts.volumes ? { volumes: opts.volumes } : {}),
    },
  } as VirtualMachine;
}

const addVm = (client: ShoalClient, v: VirtualMachine) => client.create<VirtualMachine>('vm', v, { namespace: 'default' });
const addVolume = (client: ShoalClient, name: string, spec = blank(1)) =>
  client.create<Volume>('volume', { metadata: { name }, spec } as Volume, { namespace: 'default' });
const getVolume = (client: ShoalClient, name: string) => client.get<Volume>('volume', name, { namespace: 'default' });
const volumeExists = (client: ShoalClient, name: string) => waitForObject(client, 'Volume', name, () => true, { ...LONG, namespace: 'default' });
const volumeGone = (client: ShoalClient, name: string) => waitForGone(client, 'Volume', name, { ...LONG, namespace: 'default', message: 'gone' });
const liftAgentFinalizer = (client: ShoalClient, name: string) => client.patch('vm', name, { metadata: { finalizers: null } }, { type: 'merge' });

/** The volume controller's Events about `name` with `reason`. */
async function eventsAbout(client: ShoalClient, name: string, reason: string): Promise<Event[]> {
  return (await client.list<Event>('event', { namespace: 'default' })).items.filter(
    (e) => e.involvedObject.name === name && e.reason === reason && e.source?.component === VOLUME_COMPONENT,
  );
}

function eventSaying(client: ShoalClient, name: string, reason: string, text: RegExp): Promise<Event> {
  return waitFor(async () => (await eventsAbout(client, name, reason)).find((e) => text.test(e.message ?? '')), {
    ...LONG,
    message: `${reason} Event on ${name} matching ${text}`,
  });
}

const ownerOf = (v: Volume) => v.metadata.ownerReferences;
const ownedBy = (owner: VirtualMachine) => [
  { apiVersion: 'shoal.dev/v1alpha1', kind: 'VirtualMachine', name: owner.metadata.name, uid: owner.metadata.uid, controller: true, blockOwnerDeletion: true },
];

test('a VM with a volumeTemplate and a rootDisk gets Volumes <vm>-data and <vm>-root, owned by it and labelled, the pool resolved at creation: local without a default pool, the default pool once there is one', async () => {
  await withSystemCluster({ controllers: ['volume'], secured: true }, async ({ client, cm }) => {
    const web = await addVm(client, vm('web', { rootDisk: true, volumes: [{ name: 'data', volumeTemplate: blank(2) }] }));
    const data = await volumeExists(client, 'web-data');
    const root = await volumeExists(client, 'web-root');
    for (const v of [data, root]) {
      assert.deepEqual(ownerOf(v), ownedBy(web), `${v.metadata.name} is controlled by web`);
      assert.deepEqual(v.metadata.labels, { 'shoal.dev/vm': 'web' });
      assert.ok(v.metadata.finalizers?.includes(VOLUME_PROTECTION_FINALIZER));
      assert.equal(v.metadata.deletionTimestamp, undefined);
    }
    assert.deepEqual(data.spec, { sizeGiB: 2, source: { blank: {} }, pool: 'local' }, 'no StoragePool at all: the pool named local');
    assert.deepEqual(root.spec, { sizeGiB: 4, source: { image: IMAGE }, pool: 'local' }, 'the rootDisk as the owned volume root');

    // A default pool: new Volumes that name no pool go there; one that names its pool keeps it.
    await client.create('storagepool', { metadata: { name: 'plain' }, spec: { type: 'local' } });
    await client.create('storagepool', { metadata: { name: 'fast' }, spec: { type: 'local', default: true } });
    const db = await addVm(
      client,
      vm('db', {
        volumes: [
          { name: 'data', volumeTemplate: blank(8) },
          { name: 'logs', volumeTemplate: blank(1, 'plain') },
        ],
      }),
    );
    assert.equal((await volumeExists(client, 'db-data')).spec.pool, 'fast');
    assert.equal((await volumeExists(client, 'db-logs')).spec.pool, 'plain');
    assert.deepEqual(ownerOf(await getVolume(client, 'db-data')), ownedBy(db));

    // The default moves: what was made stays where it is (the pool was written at creation).
    await client.patch('storagepool', 'fast', { spec: { default: false } }, { type: 'merge' });
    await client.patch('storagepool', 'plain', { spec: { default: true } }, { type: 'merge' });
    await addVm(client, vm('cache', { volumes: [{ name: 'data', volumeTemplate: blank(1) }] }));
    assert.equal((await volumeExists(client, 'cache-data')).spec.pool, 'plain');
    assert.equal((await getVolume(client, 'db-data')).spec.pool, 'fast');
    assert.equal((await getVolume(client, 'web-data')).spec.pool, 'local');
    assert.deepEqual(refusals(cm!), [], 'its role allows all it does');
  });
});

test("deleting a VM deletes the Volumes it owns once the VM object is gone (not while its agent's finalizer holds it), never a Volume it only attached by name; all as system:shoal:volume", async () => {
  await withSystemCluster({ controllers: ['volume'], secured: true }, async ({ client, cm, audit }) => {
    const shared = await addVolume(client, 'shared');
    const app = await addVm(
      client,
      vm('app', {
        rootDisk: true,
        finalizers: [AGENT_FINALIZER],
        volumes: [
          { name: 'data', volumeTemplate: blank(1) },
          { name: 'ext', volumeName: 'shared' },
        ],
      }),
    );
    const owned = [await volumeExists(client, 'app-data'), await volumeExists(client, 'app-root')];

    // Deleted while its guest "stops": the VM is still there, and so are its Volumes.
    await client.delete('vm', 'app');
    assert.ok((await client.get<VirtualMachine>('vm', 'app')).metadata.deletionTimestamp);
    // A barrier without a sleep: keys are handed out in order and a VM that is still there means
    // no write, so once a VM created after the delete has its Volume, app's were looked at.
    await addVm(client, vm('later', { volumes: [{ name: 'data', volumeTemplate: blank(1) }] }));
    await volumeExists(client, 'later-data');
    for (const v of owned) {
      const now = await getVolume(client, v.metadata.name!);
      assert.equal(now.metadata.uid, v.metadata.uid);
      assert.equal(now.metadata.deletionTimestamp, undefined, `${v.metadata.name} is kept while app is being deleted`);
    }

    // The agent is done: the VM goes, then what it owned.
    await liftAgentFinalizer(client, 'app');
    await waitForGone(client, 'VirtualMachine', 'app', LONG);
    await volumeGone(client, 'app-data');
    await volumeGone(client, 'app-root');
    const kept = await getVolume(client, 'shared');
    assert.equal(kept.metadata.uid, shared.metadata.uid);
    assert.equal(kept.metadata.deletionTimestamp, undefined, 'a Volume app only attached by name stays');
    assert.equal((await getVolume(client, 'later-data')).metadata.deletionTimestamp, undefined);

    // Its writes, as its own user: Volumes made, deleted and let go (the finalizer), nothing else.
    const mine = await waitFor(async () => {
      const entries = (await audit()).filter((e) => e.user === 'system:shoal:volume');
      return entries.some((e) => e.verb === 'patch' && e.name === 'app-root') ? entries : undefined;
    }, LONG);
    const writes = [...new Set(mine.filter((e) => e.resource === 'volumes').map((e) => `${e.verb} ${e.name}`))].sort();
    assert.deepEqual(writes, [
      'create app-data',
      'create app-root',
      'create later-data',
      'delete app-data',
      'delete app-root',
      'patch app-data',
      'patch app-root',
    ]);
    assert.deepEqual(
      [...new Set(mine.map((e) => e.resource))].filter((r) => r !== 'volumes' && r !== 'events'),
      [],
    );
    assert.deepEqual(
      mine.filter((e) => e.code === 401 || e.code === 403),
      [],
    );
    assert.deepEqual(refusals(cm!), []);
  });
});

test('a deleted Volume some VM attaches stays Terminating (finalizer kept) with a VolumeInUse Event naming the VMs, said once per change; it goes once no VM attaches it', async () => {
  await withSystemCluster({ controllers: ['volume'], secured: true }, async ({ client, cm }) => {
    await addVolume(client, 'disk');
    await addVm(client, vm('a', { volumes: [{ name: 'd', volumeName: 'disk' }] }));
    await addVm(client, vm('b', { volumes: [{ name: 'd', volumeName: 'disk' }] }));
    await addVm(client, vm('own', { volumes: [{ name: 'data', volumeTemplate: blank(1) }] }));
    await volumeExists(client, 'own-data');

    await client.delete('volume', 'disk', { namespace: 'default' });
    const both = await eventSaying(client, 'disk', 'VolumeInUse', /used by a, b$/);
    assert.equal(both.type, 'Normal');
    assert.equal(both.involvedObject.kind, 'Volume');
    const terminating = await getVolume(client, 'disk');
    assert.ok(terminating.metadata.deletionTimestamp);
    assert.deepEqual(terminating.metadata.finalizers, [VOLUME_PROTECTION_FINALIZER]);

    // Changes that leave the same VMs attached say nothing new.
    await client.patch('volume', 'disk', { metadata: { labels: { touched: '1' } } }, { type: 'merge', namespace: 'default' });
    await client.patch('vm', 'a', { metadata: { labels: { touched: '1' } } }, { type: 'merge' });
    // a stops attaching it: a new Event names b alone.
    await client.patch('vm', 'a', { spec: { volumes: [] } }, { type: 'merge' });
    await eventSaying(client, 'disk', 'VolumeInUse', /used by b$/);
    assert.deepEqual((await eventsAbout(client, 'disk', 'VolumeInUse')).map((e) => [e.message!.replace(/.*used by /, ''), e.count]).sort(), [
      ['a, b', 1],
      ['b', 1],
    ]);
    assert.ok((await getVolume(client, 'disk')).metadata.deletionTimestamp, 'still Terminating: b attaches it');

    // b being deleted still attaches it; once b is gone, the Volume goes.
    await client.patch('vm', 'b', { metadata: { finalizers: [AGENT_FINALIZER] } }, { type: 'merge' });
    await client.delete('vm', 'b');
    await addVm(client, vm('barrier', { volumes: [{ name: 'data', volumeTemplate: blank(1) }] }));
    await volumeExists(client, 'barrier-data');
    assert.deepEqual((await getVolume(client, 'disk')).metadata.finalizers, [VOLUME_PROTECTION_FINALIZER], 'b, being deleted, still holds it');
    await liftAgentFinalizer(client, 'b');
    await volumeGone(client, 'disk');

    // An owned Volume deleted by hand: its VM attaches it, so it waits for the VM.
    await client.delete('volume', 'own-data', { namespace: 'default' });
    await eventSaying(client, 'own-data', 'VolumeInUse', /used by own$/);
    assert.ok((await getVolume(client, 'own-data')).metadata.finalizers?.includes(VOLUME_PROTECTION_FINALIZER));
    await client.delete('vm', 'own');
    await volumeGone(client, 'own-data');
    assert.deepEqual(refusals(cm!), []);
  });
});

test('a Volume name taken by a foreign Volume: not adopted, not changed, not deleted; a VolumeNameTaken Warning on the VM, once; the VM gets its own once the name is free', async () => {
  await withSystemCluster({ controllers: ['volume'], secured: true }, async ({ client, cm }) => {
    const foreign = await addVolume(client, 'web-data', blank(3, 'elsewhere'));
    const web = await addVm(client, vm('web', { volumes: [{ name: 'data', volumeTemplate: blank(1) }] }));
    const warning = await eventSaying(client, 'web', 'VolumeNameTaken', /^Volume web-data already exists and is not this VirtualMachine's \(nothing owns it\)/);
    assert.equal(warning.type, 'Warning');
    assert.equal(warning.involvedObject.uid, web.metadata.uid);
    assert.match(warning.message!, /disk data \(spec\.volumes\[0\]\)/);

    // Changes to the Volume and the VM that leave the name taken say nothing more.
    await client.patch('volume', 'web-data', { metadata: { labels: { touched: '1' } } }, { type: 'merge', namespace: 'default' });
    await client.patch('vm', 'web', { spec: { volumes: [{ name: 'data', volumeTemplate: blank(2) }] } }, { type: 'merge' });
    // Another VM that owns its Volume: a barrier (keys are handed out in order).
    await addVm(client, vm('other', { volumes: [{ name: 'data', volumeTemplate: blank(1) }] }));
    await volumeExists(client, 'other-data');
    const still = await getVolume(client, 'web-data');
    assert.equal(still.metadata.uid, foreign.metadata.uid);
    assert.equal(still.metadata.ownerReferences, undefined, 'not adopted');
    assert.equal(still.metadata.deletionTimestamp, undefined, 'not deleted');
    assert.deepEqual(still.spec, foreign.spec, 'not changed');

    // Deleted by its owner: web's template does not attach a Volume that is not web's, so it goes,
    // and web gets its own.
    await client.delete('volume', 'web-data', { namespace: 'default' });
    const mine = await waitForObject(client, 'Volume', 'web-data', (v) => v.metadata.uid !== foreign.metadata.uid, { ...LONG, namespace: 'default' });
    assert.deepEqual(ownerOf(mine), ownedBy(web));
    assert.deepEqual(mine.spec, { sizeGiB: 2, source: { blank: {} }, pool: 'local' });
    assert.deepEqual(
      (await eventsAbout(client, 'web', 'VolumeNameTaken')).map((e) => e.count),
      [1],
      'said once',
    );
    assert.deepEqual(refusals(cm!), []);
  });
});

test('the controller stopped mid-way, things changed, a new one started: it converges — Volumes made, collected and let go — and deletes nothing it should not', async () => {
  await withSystemCluster({ controllers: ['volume'], secured: true }, async (c) => {
    const { client } = c;
    const keep = await addVm(client, vm('keep', { volumes: [{ name: 'data', volumeTemplate: blank(1) }] }));
    await addVm(client, vm('doomed', { volumes: [{ name: 'data', volumeTemplate: blank(1) }] }));
    const again = await addVm(client, vm('again', { volumes: [{ name: 'data', volumeTemplate: blank(1) }] }));
    await addVolume(client, 'held');
    await addVolume(client, 'freed');
    await addVolume(client, 'untouched');
    await addVm(
      client,
      vm('holder', {
        volumes: [
          { name: 'd', volumeName: 'held' },
          { name: 'u', volumeName: 'untouched' },
        ],
      }),
    );
    await addVm(client, vm('leaver', { volumes: [{ name: 'd', volumeName: 'freed' }] }));
    const keepData = await volumeExists(client, 'keep-data');
    await volumeExists(client, 'doomed-data');
    const oldAgain = await volumeExists(client, 'again-data');
    assert.deepEqual(ownerOf(oldAgain), ownedBy(again));

    await c.cm!.kill();
    await client.delete('vm', 'doomed');
    await client.delete('vm', 'again');
    const newAgain = await addVm(client, vm('again', { volumes: [{ name: 'data', volumeTemplate: blank(1) }] }));
    await addVm(client, vm('late', { rootDisk: true }));
    await client.delete('volume', 'held', { namespace: 'default' });
    await client.delete('volume', 'freed', { namespace: 'default' });
    await client.delete('vm', 'leaver');
    // Nobody collects while it is down.
    assert.equal((await getVolume(client, 'doomed-data')).metadata.deletionTimestamp, undefined);

    await c.startControllerManager();
    await volumeGone(client, 'doomed-data');
    await volumeGone(client, 'freed');
    await volumeExists(client, 'late-root');
    // The Volume of the VM's former incarnation is collected, and the new one gets its own.
    const replaced = await waitForObject(client, 'Volume', 'again-data', (v) => v.metadata.ownerReferences?.[0]?.uid === newAgain.metadata.uid, {
      ...LONG,
      namespace: 'default',
    });
    assert.notEqual(replaced.metadata.uid, oldAgain.metadata.uid);
    assert.equal(replaced.metadata.deletionTimestamp, undefined);

    const stillKept = await getVolume(client, 'keep-data');
    assert.equal(stillKept.metadata.uid, keepData.metadata.uid);
    assert.equal(stillKept.metadata.deletionTimestamp, undefined);
    assert.deepEqual(ownerOf(stillKept), ownedBy(keep));
    assert.equal((await getVolume(client, 'untouched')).metadata.deletionTimestamp, undefined);
    const held = await getVolume(client, 'held');
    assert.deepEqual(held.metadata.finalizers, [VOLUME_PROTECTION_FINALIZER], 'held: holder still attaches it');
    await eventSaying(client, 'held', 'VolumeInUse', /used by holder$/);
    assert.deepEqual(refusals(c.cm!), []);
  });
});
