/**
 * Images end to end: a real etcd, apiserver, controller-manager and a QEMU agent; an HTTP server
 * in the test serves the files of the default guest image, and Images name them by URL and
 * sha256. What a user must see:
 *
 *   a VM of an Image          → the node fetches it once, verifies it and boots it; a second VM
 *                               shares the node's copy; the Image says where it is cached
 *   a wrong digest            → the VM never boots, and says why
 *   an unreachable source     → the VM waits saying why, and boots once the source answers
 *   deleting an Image in use  → it waits, saying by whom, and goes once nothing uses it
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Event, Image, Node, VirtualMachine } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import { runningVmProcesses, startCluster, waitFor, waitForGone, waitForObject, type TestCluster } from '@shoal/testing';
import { locateGuestImage } from '../apps/agent/src/runtime/qemu/guest-image.js';
import { shoalctl } from '../apps/cli/src/test-support/shoalctl.js';

let cluster: TestCluster;
let client: ShoalClient;
let server: Server;
let base: string;
const NODE = 'img-node';
const files = new Map<string, Buffer>();
const requests = new Map<string, number>();
/** Paths that answer 404 until the test lets them through. */
const withheld = new Set<string>();
let kernelSha = '';
let initrdSha = '';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A file sent a slice at a time, ten slices a second: a fetch long enough to watch. */
function serveSlowly(path: string, res: import('node:http').ServerResponse): void {
  const body = files.get(path);
  if (!body) return void res.writeHead(404).end();
  res.writeHead(200, { 'content-length': body.length });
  const slice = Math.ceil(body.length / 40);
  let sent = 0;
  const timer = setInterval(() => {
    res.write(body.subarray(sent, sent + slice));
    sent += slice;
    if (sent >= body.length) {
      clearInterval(timer);
      res.end();
    }
  }, 100);
  res.on('close', () => clearInterval(timer));
}

before(async () => {
  const image = await locateGuestImage();
  files.set('/busybox/vmlinuz', await readFile(image.kernel));
  files.set('/busybox/initrd', await readFile(image.initrd));
  kernelSha = sha256(files.get('/busybox/vmlinuz')!);
  initrdSha = sha256(files.get('/busybox/initrd')!);
  server = createServer((req, res) => {
    if (req.url?.startsWith('/slow/')) return void serveSlowly(req.url.replace(/^\/slow/, '/busybox'), res);
    const path = (req.url ?? '').replace(/^\/late/, '/busybox');
    requests.set(req.url ?? '', (requests.get(req.url ?? '') ?? 0) + 1);
    const body = files.get(path);
    if (!body || withheld.has(req.url ?? '')) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-length': body.length }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  cluster = await startCluster({
    controllerManager: true,
    agents: [NODE],
    agentArgs: ['--vcpus', '4', '--memory-mib', '2048', '--image-retry', '2', '--image-gc-interval', '1', '--image-gc-grace', '2'],
  });
  client = cluster.client;
});

after(async () => {
  await cluster?.stop();
  server?.close();
});

const imageOf = (name: string, kernel: { url: string; sha256: string }) => ({
  metadata: { name },
  spec: { kernel, initrd: { url: `${base}/busybox/initrd`, sha256: initrdSha } },
});

const vmOf = (name: string, image: string) => ({
  metadata: { name, namespace: 'default' },
  spec: { image, resources: { vcpus: 1, memoryMiB: 128 }, network: { mode: 'none' }, command: ['sh', '-c', `echo ${name}-up; sleep 600`] },
});

const until = (name: string, ok: (vm: VirtualMachine) => boolean, message: string, timeoutMs = 120_000) =>
  waitForObject(client, 'VirtualMachine', name, ok, { namespace: 'default', timeoutMs, message: `${name}: ${message}` });

const cacheDir = () => join(cluster.agents.get(NODE)!.dataDir, 'images', 'sha256');

test('a VM of an Image fetched over HTTP boots it; a second VM shares the node’s one verified copy; the Image says where it is cached', async () => {
  await client.create('image', imageOf('busybox-http', { url: `${base}/busybox/vmlinuz`, sha256: kernelSha }));
  await client.create('vm', vmOf('img-a', 'busybox-http'));
  await client.create('vm', vmOf('img-b', 'busybox-http'));
  const a = await until('img-a', (v) => v.status?.phase === 'Running', 'Running');
  await until('img-b', (v) => v.status?.phase === 'Running', 'Running');
  assert.equal(requests.get('/busybox/vmlinuz'), 1, 'the kernel fetched once for both VMs');
  assert.equal(requests.get('/busybox/initrd'), 1, 'the initramfs fetched once for both VMs');
  assert.deepEqual((await readdir(cacheDir())).sort(), [kernelSha, initrdSha].sort(), 'one copy of each file, named by its digest');
  const cmdline = await readFile(`/proc/${a.status!.pid}/cmdline`, 'utf8');
  assert.ok(cmdline.includes(join(cacheDir(), kernelSha)), 'QEMU boots the verified copy');
  assert.match(await readFile(join(cluster.agents.get(NODE)!.dataDir, 'vms', a.metadata.uid!, 'serial.log'), 'utf8'), /img-a-up/);

  const image = await waitForObject(client, 'Image', 'busybox-http', (i) => !!i.status?.nodes?.includes(NODE), { message: 'the Image cached on the node' });
  const size = files.get('/busybox/vmlinuz')!.length + files.get('/busybox/initrd')!.length;
  assert.equal(image.status?.size, size);
  assert.match(image.status?.digest ?? '', /^sha256:[0-9a-f]{64}$/);
  assert.equal(image.status?.conditions?.find((c) => c.type === 'Cached')?.status, 'True');
  const node = await client.get<Node>('node', NODE);
  assert.deepEqual(node.status?.images?.map((i) => i.sha256).sort(), [kernelSha, initrdSha].sort());
  const listed = await shoalctl(['get', 'images', '--server', cluster.url]);
  assert.match(listed.stdout, new RegExp(`busybox-http\\s+ShoalInit\\s+${size}`));
});

test('a file whose digest does not match is never booted: the VM says ImageDigestMismatch, no QEMU starts', async () => {
  const wrong = '0'.repeat(64);
  await client.create('image', imageOf('busybox-tampered', { url: `${base}/busybox/vmlinuz`, sha256: wrong }));
  await client.create('vm', vmOf('img-bad', 'busybox-tampered'));
  const vm = await until('img-bad', (v) => v.status?.reason === 'ImageDigestMismatch', 'told the digest does not match', 60_000);
  assert.match(vm.status!.message!, new RegExp(`image busybox-tampered, its kernel: .*has sha256 ${kernelSha}, not the ${wrong}`));
  assert.notEqual(vm.status?.phase, 'Running');
  assert.equal((await runningVmProcesses()).get(vm.metadata.uid!), undefined, 'no QEMU for it');
  assert.ok(!(await readdir(cacheDir())).includes(wrong), 'nothing kept under the wrong digest');
  const events = (await client.list<Event>('event', { namespace: 'default' })).items;
  assert.ok(
    events.some((e) => e.reason === 'ImageDigestMismatch' && e.involvedObject.name === 'img-bad'),
    'an Event says it too',
  );
  await client.delete('vm', 'img-bad', { namespace: 'default' });
  await waitForGone(client, 'VirtualMachine', 'img-bad', { namespace: 'default', timeoutMs: 30_000 });
});

test('a source that does not answer is a visible reason; the VM boots once it does', async () => {
  // A file the node does not hold yet (the kernel it has already): the initramfs with some
  // padding, which the kernel skips when it unpacks it.
  const lateInitrd = Buffer.concat([files.get('/busybox/initrd')!, Buffer.alloc(512)]);
  files.set('/busybox/initrd-late', lateInitrd);
  withheld.add('/late/initrd-late');
  await client.create('image', {
    metadata: { name: 'busybox-late' },
    spec: { kernel: { url: `${base}/busybox/vmlinuz`, sha256: kernelSha }, initrd: { url: `${base}/late/initrd-late`, sha256: sha256(lateInitrd) } },
  });
  await client.create('vm', vmOf('img-late', 'busybox-late'));
  const waiting = await until('img-late', (v) => v.status?.reason === 'ImagePullFailed', 'told the source does not answer', 60_000);
  assert.match(waiting.status!.message!, /image busybox-late, its initramfs: fetching http:\/\/127\.0\.0\.1:\d+\/late\/initrd-late: HTTP 404/);
  withheld.delete('/late/initrd-late');
  await until('img-late', (v) => v.status?.phase === 'Running', 'Running once the source answers', 120_000);
  await client.delete('vm', 'img-late', { namespace: 'default' });
  await waitForGone(client, 'VirtualMachine', 'img-late', { namespace: 'default', timeoutMs: 30_000 });
});

test('while the node fetches an image, the VM says so with how far the fetch is; then it boots', async () => {
  const slowInitrd = Buffer.concat([files.get('/busybox/initrd')!, Buffer.alloc(1024)]);
  files.set('/busybox/initrd-slow', slowInitrd);
  await client.create('image', {
    metadata: { name: 'busybox-slow' },
    spec: { kernel: { url: `${base}/busybox/vmlinuz`, sha256: kernelSha }, initrd: { url: `${base}/slow/initrd-slow`, sha256: sha256(slowInitrd) } },
  });
  await client.create('vm', vmOf('img-slow', 'busybox-slow'));
  const total = (slowInitrd.length / 1048576).toFixed(1);
  // Its size is known once the server has answered: from then on the status says how far it is.
  const pulling = await until(
    'img-slow',
    (v) => v.status?.reason === 'ImagePulling' && / of /.test(v.status.message ?? ''),
    'told how far the fetch of its image is',
    60_000,
  );
  assert.match(pulling.status!.message!, new RegExp(`^fetching image busybox-slow, its initramfs: \\d+\\.\\d of ${total.replace('.', '\\.')} MiB$`));
  await until('img-slow', (v) => v.status?.phase === 'Running', 'Running once fetched', 120_000);
  await client.delete('vm', 'img-slow', { namespace: 'default' });
  await waitForGone(client, 'VirtualMachine', 'img-slow', { namespace: 'default', timeoutMs: 30_000 });
  await client.delete('image', 'busybox-slow');
});

test('an Image in use cannot be deleted: it waits, saying which VMs use it, and goes once they are gone', async () => {
  await client.delete('image', 'busybox-http');
  const kept = await waitForObject(client, 'Image', 'busybox-http', (i) => i.status?.conditions?.some((c) => c.type === 'InUse') ?? false, {
    message: 'the deletion waiting, saying why',
  });
  assert.ok(kept.metadata.deletionTimestamp);
  assert.match(kept.status!.conditions!.find((c) => c.type === 'InUse')!.message!, /VirtualMachine default\/img-a, VirtualMachine default\/img-b/);
  assert.equal((await client.get<VirtualMachine>('vm', 'img-a', { namespace: 'default' })).status?.phase, 'Running', 'its VMs run on');
  for (const name of ['img-a', 'img-b']) await client.delete('vm', name, { namespace: 'default' });
  await waitForGone(client, 'Image', 'busybox-http', { timeoutMs: 60_000 });
  const left = (await client.list<Image>('image')).items.map((i) => i.metadata.name);
  assert.ok(!left.includes('busybox-http'));
});

test('the node’s copies go once nothing on the node uses them (after the grace period), and its status.images says so', async () => {
  // busybox-late still exists, but no VM uses it any more: nothing here needs its files.
  await waitFor(async () => (await readdir(cacheDir())).length === 0, { timeoutMs: 30_000, message: 'the cache emptied' });
  await waitForObject(client, 'Node', NODE, (n) => (n.status?.images ?? []).length === 0, { message: 'status.images empty' });
  const late = await waitForObject(client, 'Image', 'busybox-late', (i) => i.status?.nodes?.length === 0, { message: 'the Image no longer cached anywhere' });
  assert.equal(late.status?.conditions?.find((c) => c.type === 'Cached')?.status, 'False');
});
