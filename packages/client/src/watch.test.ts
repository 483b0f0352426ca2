/**
 * A watch resumes without losing or repeating events when its connection ends part-way through
 * the events of one resourceVersion (several objects written in one etcd transaction). The cut
 * has to fall between two lines of one burst, which a real apiserver does only when it dies
 * mid-write: a local server stands in for the watch endpoint here and records where each
 * connection asked to resume from.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { API_VERSION, type WatchEvent } from '@shoal/api';
import { ShoalClient } from './client.js';

let server: Server;
let client: ShoalClient;
/** What each connection asked for, and the lines it is answered with before the server hangs up. */
const asked: (string | null)[] = [];
let answers: string[][] = [];

const vm = (name: string, rv: number) => ({
  apiVersion: API_VERSION,
  kind: 'VirtualMachine',
  metadata: { name, namespace: 'default', resourceVersion: String(rv) },
});
const line = (type: string, object: object) => `${JSON.stringify({ type, object })}\n`;

before(async () => {
  server = createServer((req, res) => {
    asked.push(new URL(req.url!, 'http://x').searchParams.get('resourceVersion'));
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end((answers.shift() ?? []).join(''));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  client = new ShoalClient({ server: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
});
after(async () => {
  await client.close();
  server.close();
});

async function collect(count: number, resourceVersion: string): Promise<string[]> {
  const stop = new AbortController();
  const seen: string[] = [];
  for await (const ev of client.watch('vm', { namespace: 'default', resourceVersion, backoff: { initialMs: 1, maxMs: 5 } }, stop.signal) as AsyncIterable<
    WatchEvent<ReturnType<typeof vm>>
  >) {
    seen.push(`${ev.type} ${ev.object.metadata.name}@${ev.object.metadata.resourceVersion}`);
    if (seen.length === count) stop.abort();
  }
  return seen;
}

test('a connection cut inside one version resumes from just before it: the rest of that version arrives, nothing twice', async () => {
  asked.length = 0;
  answers = [
    // a, b and c were written together at 12; the connection ends after a and b.
    [line('MODIFIED', vm('z', 11)), line('MODIFIED', vm('a', 12)), line('MODIFIED', vm('b', 12))],
    // From 11 on: the whole of 12 again, then what came next.
    [line('MODIFIED', vm('a', 12)), line('MODIFIED', vm('b', 12)), line('MODIFIED', vm('c', 12)), line('ADDED', vm('d', 13))],
  ];
  const seen = await collect(5, '10');
  assert.deepEqual(seen, ['MODIFIED z@11', 'MODIFIED a@12', 'MODIFIED b@12', 'MODIFIED c@12', 'ADDED d@13']);
  assert.deepEqual(asked, ['10', '11'], 'the second connection started from the version before the one it was cut in');
});

test('after a BOOKMARK, or a connection that ended between versions of its own, the watch resumes from the version it has', async () => {
  asked.length = 0;
  answers = [
    [line('MODIFIED', vm('a', 21)), line('BOOKMARK', { kind: 'VirtualMachine', apiVersion: API_VERSION, metadata: { resourceVersion: '25' } })],
    [line('MODIFIED', vm('b', 26))],
    [line('MODIFIED', vm('c', 27))],
  ];
  const seen = await collect(4, '20');
  assert.deepEqual(seen, ['MODIFIED a@21', 'BOOKMARK undefined@25', 'MODIFIED b@26', 'MODIFIED c@27']);
  // b@26 may have had company at 26: only the bookmark proves a version complete.
  assert.deepEqual(asked, ['20', '25', '25']);
});
