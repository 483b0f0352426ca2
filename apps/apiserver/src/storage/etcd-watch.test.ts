/**
 * The etcd watch under a broken connection, against a real etcd behind a TCP relay the test can
 * cut: whatever happens to the stream, every change arrives once, in order.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Etcd3 } from 'etcd3';
import { startEtcd, waitFor, type EtcdMember } from '@shoal/testing';
import { watchPrefix } from './etcd-watch.js';

/** A TCP relay to etcd whose connections can be cut, as a member dying would cut them. */
class Relay {
  private readonly sockets = new Set<net.Socket>();
  private readonly server: net.Server;

  constructor(target: URL) {
    this.server = net.createServer((client) => {
      const upstream = net.connect(Number(target.port), target.hostname);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  cut(): void {
    for (const s of this.sockets) s.destroy();
  }

  close(): Promise<void> {
    this.cut();
    return new Promise((r) => this.server.close(() => r()));
  }
}

let member: EtcdMember;
let relay: Relay;
let direct: Etcd3;
let relayed: Etcd3;

before(async () => {
  member = await startEtcd({ name: 'watch-relay' });
  relay = new Relay(new URL(member.endpoint));
  direct = new Etcd3({ hosts: member.endpoint });
  relayed = new Etcd3({ hosts: await relay.listen() });
});
after(async () => {
  relayed?.close();
  direct?.close();
  await relay?.close();
  await member?.stop();
});

test('a stream cut right after etcd confirms the watch, before the backlog arrives, resumes from the last change delivered', async () => {
  // A backlog of a few MB: etcd confirms the watch (with its current revision in the header)
  // well before it has streamed the changes in between.
  const start = Number((await direct.put('/w/start').value('0').exec()).header.revision);
  const value = 'x'.repeat(2048);
  const total = 3000;
  for (let i = 0; i < total; i += 100) {
    await Promise.all(Array.from({ length: 100 }, (_, j) => direct.put(`/w/key-${String(i + j).padStart(5, '0')}`).value(value)));
  }

  const seen: number[] = [];
  let connections = 0;
  const watch = await watchPrefix(
    relayed,
    '/w/',
    start + 1,
    {
      onChange: (_key, change) => seen.push(change.revision),
      onRevision: () => undefined,
      onFatal: (err) => assert.fail(`the watch failed: ${err.message}`),
      onConnectionChange: (connected) => {
        // The first confirmation: cut the stream before the backlog can follow it.
        if (connected && ++connections === 1) relay.cut();
      },
    },
    { previous: () => undefined },
  );
  try {
    // One more change after the backlog: once it is seen, everything before it must have been.
    const end = Number((await direct.put('/w/end').value('1').exec()).header.revision);
    await waitFor(() => seen.includes(end), { timeoutMs: 30_000, message: 'the change made after the backlog' });
    assert.ok(connections >= 2, 'the watch was created again after the cut');
    const missing = Array.from({ length: end - start }, (_, i) => start + 1 + i).filter((r) => !seen.includes(r));
    assert.deepEqual(missing.length, 0, `${missing.length} changes never arrived, from revision ${missing[0]}`);
    assert.deepEqual(
      seen,
      [...seen].sort((a, b) => a - b),
      'in order',
    );
    assert.equal(seen.length, end - start, 'each once');
  } finally {
    await watch.cancel();
  }
});
