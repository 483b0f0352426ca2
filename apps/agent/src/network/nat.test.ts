/**
 * The node's NAT on a real kernel: a node namespace with a Network's bridge and an uplink to an
 * "outside" namespace that knows nothing of the Network's subnet, and a guest namespace on the
 * bridge. Masquerade lets the guest reach outside; a published port takes outside clients, and
 * the node itself, to the guest; rewriting the table keeps an open connection; what is not
 * published any more is not reachable.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execa, type ResultPromise } from 'execa';
import { waitFor } from '@shoal/testing';
import { Links } from './links.js';
import { Nat, NAT_TABLE, renderRules } from './nat.js';

const tag = `sn${process.pid % 100_000}`;
const NODE = `${tag}-n`;
const GUEST = `${tag}-g`;
const OUTSIDE = `${tag}-o`;
const SUBNET = '10.81.0.0/24';
const NODE_UPLINK = '192.168.81.1';
const nat = new Nat(NODE);
const published = { protocol: 'tcp' as const, hostPort: 18080, guestIp: '10.81.0.5', guestPort: 8080 };
let server: ResultPromise | undefined;

const sh = (...args: string[]) => execa(args[0]!, args.slice(1));
const pings = (from: string, to: string) =>
  execa('ip', ['netns', 'exec', from, 'busybox', 'ping', '-c', '1', '-W', '1', to]).then(
    () => true,
    () => false,
  );
/** What a TCP client in `from` reads from `host:port` (its first line), or undefined when it cannot connect. */
const fetchLine = (from: string, host: string, port: number) =>
  execa('ip', ['netns', 'exec', from, 'busybox', 'nc', '-w', '2', host, String(port)], { input: '', reject: false }).then((r) =>
    r.exitCode === 0 && r.stdout ? r.stdout.split('\n')[0] : undefined,
  );

before(async () => {
  for (const n of [NODE, GUEST, OUTSIDE]) await sh('ip', 'netns', 'add', n);
  await new Links(NODE).ensureBridge('shbr-nat', ['10.81.0.1/24']);
  await sh('ip', '-n', NODE, 'link', 'add', 'gvh', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', GUEST);
  await sh('ip', '-n', NODE, 'link', 'set', 'gvh', 'master', 'shbr-nat', 'up');
  await sh('ip', '-n', GUEST, 'addr', 'add', '10.81.0.5/24', 'dev', 'eth0');
  await sh('ip', '-n', GUEST, 'link', 'set', 'eth0', 'up');
  await sh('ip', '-n', GUEST, 'route', 'add', 'default', 'via', '10.81.0.1');
  await sh('ip', '-n', NODE, 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up0', 'netns', OUTSIDE);
  await sh('ip', '-n', NODE, 'addr', 'add', `${NODE_UPLINK}/24`, 'dev', 'up0');
  await sh('ip', '-n', OUTSIDE, 'addr', 'add', '192.168.81.2/24', 'dev', 'up0');
  for (const n of [NODE, OUTSIDE]) {
    await sh('ip', '-n', n, 'link', 'set', 'up0', 'up');
    await sh('ip', '-n', n, 'link', 'set', 'lo', 'up');
  }
  // A guest service: each connection gets a greeting, then every line it sends back.
  server = execa('ip', [
    'netns',
    'exec',
    GUEST,
    process.execPath,
    '-e',
    "require('net').createServer((s) => { s.write('hello from the guest\\n'); s.pipe(s); }).listen(8080)",
  ]);
  server.catch(() => undefined);
});

after(async () => {
  server?.kill();
  for (const n of [NODE, GUEST, OUTSIDE]) await sh('ip', 'netns', 'del', n).catch(() => undefined);
});

test('masquerade: a guest reaches outside its node through the node’s address, only once the table says so', async () => {
  assert.equal(await pings(GUEST, '192.168.81.2'), false, 'outside has no way back to the subnet');
  assert.equal(await nat.ensure({ subnets: [SUBNET], ports: [] }), 'written');
  await waitFor(() => pings(GUEST, '192.168.81.2'), { timeoutMs: 10_000, message: 'the guest to reach outside' });
  assert.equal(await nat.ensure({ subnets: [SUBNET], ports: [] }), 'unchanged');
});

test('a published port takes clients outside and on the node to the guest; a rewrite keeps an open connection; unpublished, it is closed', async () => {
  assert.equal(await nat.ensure({ subnets: [SUBNET], ports: [published] }), 'written');
  await waitFor(async () => (await fetchLine(OUTSIDE, NODE_UPLINK, 18080)) === 'hello from the guest', {
    timeoutMs: 10_000,
    message: 'the guest’s service through the node’s port',
  });
  assert.equal(await fetchLine(NODE, NODE_UPLINK, 18080), 'hello from the guest', 'from the node itself too');

  // An open connection, then the table rewritten with one more port: the connection goes on.
  const client = execa('ip', ['netns', 'exec', OUTSIDE, 'busybox', 'nc', NODE_UPLINK, '18080'], { reject: false });
  let seen = '';
  client.stdout!.on('data', (d: Buffer) => (seen += d.toString()));
  await waitFor(() => seen.includes('hello from the guest'), { timeoutMs: 5_000, message: 'the connection open' });
  client.stdin!.write('before\n');
  await waitFor(() => seen.includes('before'), { timeoutMs: 5_000, message: 'an echo' });
  assert.equal(await nat.ensure({ subnets: [SUBNET], ports: [published, { ...published, hostPort: 18081 }] }), 'written');
  client.stdin!.write('after the rewrite\n');
  await waitFor(() => seen.includes('after the rewrite'), { timeoutMs: 5_000, message: 'the echo after the rewrite' });
  client.stdin!.end();
  await client;

  assert.equal(await nat.ensure({ subnets: [SUBNET], ports: [] }), 'written');
  assert.equal(await fetchLine(OUTSIDE, NODE_UPLINK, 18080), undefined, 'not published: nothing answers');
  await nat.remove();
  const r = await execa('ip', ['netns', 'exec', NODE, 'nft', 'list', 'table', 'ip', NAT_TABLE], { reject: false });
  assert.notEqual(r.exitCode, 0, 'the table is gone');
  await nat.remove();
});

test('the rules: the same spec renders the same text whatever its order; a host port published twice is refused', () => {
  const a = renderRules({ subnets: ['10.2.0.0/24', '10.1.0.0/24'], ports: [published, { ...published, protocol: 'udp' }] });
  const b = renderRules({ subnets: ['10.1.0.0/24', '10.2.0.0/24'], ports: [{ ...published, protocol: 'udp' }, published] });
  assert.equal(a, b);
  assert.match(a, /ip saddr 10\.1\.0\.0\/24 ip daddr != 10\.1\.0\.0\/24 masquerade/);
  assert.match(a, /tcp dport 18080 dnat to 10\.81\.0\.5:8080/);
  assert.throws(() => renderRules({ subnets: [], ports: [published, { ...published, guestIp: '10.81.0.6' }] }), /host port tcp\/18080 is published twice/);
});
