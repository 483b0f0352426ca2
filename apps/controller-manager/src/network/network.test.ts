/**
 * The network controller on a secured cluster (its own identity and RBAC role), a real etcd and
 * two apiservers: addresses for 500 VMs created at once, through both, are all distinct and inside their subnet;
 * deleting VMs gives theirs back for reuse; a full Network and a missing one are said on the
 * VM, and resolved when room or the Network comes; addresses outlive a controller restart; the
 * each Network gets an overlay segment (VNI) of its own, kept across the restart too; the
 * apiserver refuses a bad subnet with the field path; two creates of one address: one wins.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, findCondition, parseCidr, parseIpv4, type Event, type IPAddress, type Network, type VirtualMachine } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import { waitFor, waitForObject } from '@shoal/testing';
import { refusals, withSystemCluster } from '../test-support/system-cluster.js';
import { FIRST_VNI, NETWORK_FULL, NETWORK_NOT_FOUND, NETWORKS_READY } from './reconcile.js';

const NS = { namespace: 'default' };
const LONG = { timeoutMs: 120_000 };

const vmOn = (name: string, networks: string[]) => ({
  metadata: { name },
  spec: { resources: { vcpus: 1, memoryMiB: 128 }, networks: networks.map((n) => ({ name: n })) },
});

async function allVms(client: ShoalClient): Promise<VirtualMachine[]> {
  return (await client.listAll<VirtualMachine>('vm', NS)).items;
}

/** Runs `fn` over `items`, `width` at a time. */
async function inParallel<T>(items: T[], width: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: width }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item);
    }),
  );
}

test('addresses: distinct for 500 VMs at once, given back and reused, full and missing Networks said; each Network its own VNI; all kept across a controller restart', async () => {
  await withSystemCluster({ controllers: ['network'], secured: true, apiservers: 2 }, async (c) => {
    const { client } = c;
    await client.create('network', { metadata: { name: 'big' }, spec: { cidr: '10.60.0.0/22' } }, NS);
    await client.create('network', { metadata: { name: 'tiny' }, spec: { cidr: '10.61.0.0/29', gateway: '10.61.0.6' } }, NS);
    const tiny = await client.get<Network>('network', 'tiny', NS);
    assert.deepEqual([tiny.status?.gateway, tiny.status?.capacity], ['10.61.0.6', 5]);

    // 500 VMs, 32 creates in flight at a time, through both apiservers in turn.
    const names = Array.from({ length: 500 }, (_, i) => `vm-${String(i).padStart(3, '0')}`);
    await inParallel(names, 32, (n) => c.clients[Number(n.slice(3)) % 2]!.create('vm', vmOn(n, ['big']), NS));
    await waitFor(async () => (await allVms(client)).filter((v) => v.status?.interfaces?.length === 1).length === 500, {
      ...LONG,
      message: '500 VMs with an address',
    });
    const subnet = parseCidr('10.60.0.0/22');
    assert.ok(typeof subnet !== 'string');
    const ips = (await allVms(client)).map((v) => v.status!.interfaces![0]!);
    assert.equal(new Set(ips.map((i) => i.ip)).size, 500, 'never the same address twice');
    assert.ok(
      ips.every((i) => {
        const a = parseIpv4(i.ip)!;
        return a > subnet.base + 1 && a < subnet.base + subnet.size - 1 && i.gateway === '10.60.0.1' && i.prefixLength === 22;
      }),
      'inside the subnet, never the network, gateway or broadcast address',
    );
    assert.equal(new Set(ips.map((i) => i.mac)).size, 500, 'a MAC of its own per NIC');
    const ready = (await allVms(client)).map((v) => findCondition(v.status?.conditions, NETWORKS_READY)?.status);
    assert.ok(ready.every((s) => s === 'True'));
    assert.equal((await client.listAll<IPAddress>('ipaddress', NS)).items.length, 500, 'one IPAddress each');
    await waitForObject(client, 'Network', 'big', (n) => n.status?.allocated === 500, { ...LONG, ...NS, message: 'big: 500 allocated' });

    // 100 deleted: their addresses come back, and new VMs get them (the lowest free first).
    const gone = names.slice(0, 100);
    const freed = new Set((await allVms(client)).filter((v) => gone.includes(v.metadata.name!)).map((v) => v.status!.interfaces![0]!.ip));
    await inParallel(gone, 32, (n) => client.delete('vm', n, NS));
    await waitForObject(client, 'Network', 'big', (n) => n.status?.allocated === 400, { ...LONG, ...NS, message: 'big: 400 allocated' });
    const fresh = Array.from({ length: 100 }, (_, i) => `new-${String(i).padStart(3, '0')}`);
    await inParallel(fresh, 32, (n) => client.create('vm', vmOn(n, ['big']), NS));
    await waitFor(async () => (await allVms(client)).filter((v) => fresh.includes(v.metadata.name!) && v.status?.interfaces?.length).length === 100, {
      ...LONG,
      message: 'the new VMs with addresses',
    });
    const reused = (await allVms(client)).filter((v) => fresh.includes(v.metadata.name!)).map((v) => v.status!.interfaces![0]!.ip);
    assert.deepEqual(new Set(reused), freed, 'the addresses given back, and no other');

    // A full Network: the sixth VM of a /29 waits, saying why, until one of the five goes.
    for (let i = 0; i < 6; i++) await client.create('vm', vmOn(`t-${i}`, ['tiny']), NS);
    const waiting = await waitFor(
      async () => (await allVms(client)).find((v) => findCondition(v.status?.conditions, NETWORKS_READY)?.reason === NETWORK_FULL),
      { ...LONG, message: 'a VM told the Network is full' },
    );
    assert.match(
      findCondition(waiting.status?.conditions, NETWORKS_READY)!.message!,
      /Network tiny \(10\.61\.0\.0\/29\) has no free address: all 5 are in use/,
    );
    const events = (await client.list<Event>('event', NS)).items;
    assert.ok(events.some((e) => e.reason === NETWORK_FULL && e.involvedObject?.name === waiting.metadata.name));
    const tinyIps = (await allVms(client)).flatMap((v) => (v.metadata.name!.startsWith('t-') ? (v.status?.interfaces ?? []).map((i) => i.ip) : []));
    assert.deepEqual(tinyIps.sort(), ['10.61.0.1', '10.61.0.2', '10.61.0.3', '10.61.0.4', '10.61.0.5'], 'all but the gateway (.6)');
    const leaving = (await allVms(client)).find((v) => v.metadata.name!.startsWith('t-') && v.status?.interfaces?.length)!;
    await client.delete('vm', leaving.metadata.name!, NS);
    await waitForObject(client, 'VirtualMachine', waiting.metadata.name!, (v) => v.status?.interfaces?.[0]?.ip === leaving.status!.interfaces![0]!.ip, {
      ...LONG,
      ...NS,
      message: 'the waiting VM given the freed address',
    });

    // A Network that does not exist yet: said, then resolved when it is made.
    await client.create('vm', vmOn('early', ['later']), NS);
    await waitForObject(client, 'VirtualMachine', 'early', (v) => findCondition(v.status?.conditions, NETWORKS_READY)?.reason === NETWORK_NOT_FOUND, {
      ...LONG,
      ...NS,
      message: 'early told its Network is missing',
    });
    await client.create('network', { metadata: { name: 'later' }, spec: { cidr: '10.62.0.0/24' } }, NS);
    await waitForObject(client, 'VirtualMachine', 'early', (v) => v.status?.interfaces?.[0]?.ip === '10.62.0.2', {
      ...LONG,
      ...NS,
      message: 'early given 10.62.0.2',
    });

    // Each Network its own overlay segment, from FIRST_VNI up.
    const vnis = async () => (await client.list<Network>('network', NS)).items.map((n) => [n.metadata.name!, n.status?.vni] as const).sort();
    await waitFor(async () => (await vnis()).every(([, v]) => v !== undefined), { ...LONG, message: 'every Network given a VNI' });
    const given = await vnis();
    assert.deepEqual(given.map(([, v]) => v).sort(), [FIRST_VNI, FIRST_VNI + 1, FIRST_VNI + 2], `distinct VNIs: ${JSON.stringify(given)}`);

    // A controller restart changes no address and no VNI.
    const before = new Map((await allVms(client)).map((v) => [v.metadata.name!, JSON.stringify(v.status?.interfaces ?? [])]));
    await c.cm!.kill();
    await c.startControllerManager();
    await client.create('vm', vmOn('after-restart', ['later']), NS);
    await waitForObject(client, 'VirtualMachine', 'after-restart', (v) => v.status?.interfaces?.[0]?.ip === '10.62.0.3', {
      ...LONG,
      ...NS,
      message: 'the restarted controller at work',
    });
    for (const v of await allVms(client))
      if (before.has(v.metadata.name!)) assert.equal(JSON.stringify(v.status?.interfaces ?? []), before.get(v.metadata.name!), v.metadata.name);
    await client.create('network', { metadata: { name: 'newest' }, spec: { cidr: '10.63.0.0/24' } }, NS);
    await waitForObject(client, 'Network', 'newest', (n) => n.status?.vni === FIRST_VNI + 3, { ...LONG, ...NS, message: 'the next VNI for a new Network' });
    assert.deepEqual(
      (await vnis()).filter(([n]) => n !== 'newest'),
      given,
      'the VNIs kept',
    );
    assert.deepEqual(refusals(c.cm!), [], 'its RBAC role lets it do all it does');
  });
});

test('the apiserver: a bad subnet or gateway is 422 with the field path and changes nothing; the subnet never changes; one address, one IPAddress; a host port once per VM, never changed', async () => {
  await withSystemCluster({ controllers: ['network'] }, async ({ client }) => {
    const refused = async (spec: object, field: string, message: RegExp) => {
      const err = await client.create('network', { metadata: { name: 'bad' }, spec }, NS).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof ApiError && err.code === 422, `422 for ${JSON.stringify(spec)}`);
      assert.ok(
        err.details?.causes?.some((c) => c.field === field && message.test(c.message ?? '')),
        `${field}: ${JSON.stringify(err.details?.causes)}`,
      );
    };
    await refused({ cidr: '10.0.0.1/24' }, 'spec.cidr', /host bits set: the subnet is 10\.0\.0\.0\/24/);
    await refused({ cidr: '10.0.0.0/8' }, 'spec.cidr', /\/16 to \/29/);
    await refused({ cidr: '10.0.0.0/24', gateway: '10.0.1.1' }, 'spec.gateway', /not a host address of 10\.0\.0\.0\/24/);
    await assert.rejects(client.get('network', 'bad', NS), (e: unknown) => e instanceof ApiError && e.code === 404, 'nothing made');

    await client.create('network', { metadata: { name: 'n' }, spec: { cidr: '10.63.0.0/24' } }, NS);
    await assert.rejects(
      client.patch('network', 'n', { spec: { cidr: '10.64.0.0/24' } }, { ...NS, type: 'merge' }),
      (e: unknown) => e instanceof ApiError && e.code === 422 && /field is immutable/.test(JSON.stringify(e.details)),
    );

    // Two creates of one address at once, as two controllers racing would: exactly one lands.
    const claim = (vm: string) =>
      client.create('ipaddress', { metadata: { name: 'n.10-63-0-9' }, spec: { network: 'n', address: '10.63.0.9', vmName: vm, vmUID: `uid-${vm}` } }, NS);
    const results = await Promise.allSettled([claim('a'), claim('b')]);
    assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
    const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    assert.ok(lost.reason instanceof ApiError && lost.reason.code === 409);

    // Published ports: one host port and protocol once per VM; never changed after creation.
    const ports = (list: { hostPort: number; guestPort: number; protocol?: string }[]) => ({
      metadata: { name: 'web' },
      spec: { resources: { vcpus: 1, memoryMiB: 128 }, ports: list },
    });
    const twice = await client
      .create(
        'vm',
        ports([
          { hostPort: 80, guestPort: 8080 },
          { hostPort: 80, guestPort: 9090 },
        ]),
        NS,
      )
      .catch((e: unknown) => e);
    assert.ok(twice instanceof ApiError && twice.code === 422, 'a host port twice');
    assert.deepEqual(
      twice.details?.causes?.map((c) => c.field),
      ['spec.ports[1].hostPort'],
    );
    await assert.rejects(client.get('vm', 'web', NS), (e: unknown) => e instanceof ApiError && e.code === 404, 'nothing made');
    await client.create(
      'vm',
      ports([
        { hostPort: 80, guestPort: 8080 },
        { hostPort: 80, guestPort: 53, protocol: 'UDP' },
      ]),
      NS,
    );
    const changed = await client
      .patch('vm', 'web', { spec: { ports: [{ hostPort: 81, guestPort: 8080 }] } }, { ...NS, type: 'merge' })
      .catch((e: unknown) => e);
    assert.ok(changed instanceof ApiError && changed.code === 422 && changed.details?.causes?.[0]?.field === 'spec.ports', 'ports are immutable');
  });
});
