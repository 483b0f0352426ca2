/** `shoalctl events` against a real etcd and apiserver: order, columns, filters, -A and -w. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Event, Manifest } from '@shoal/api';
import { startCluster, waitFor, type TestCluster } from '@shoal/testing';
import { createNamespace, removeTestHome, shoalctl, startShoalctl } from '../../test-support/shoalctl.js';

let cluster: TestCluster;
const ago = (ms: number) => new Date(Date.now() - ms).toISOString().replace(/\.\d+Z$/, 'Z');
const MIN = 60_000;

function event(name: string, namespace: string, about: { kind: string; name: string }, fields: Partial<Manifest<Event>> = {}): Manifest<Event> {
  return {
    apiVersion: 'shoal.dev/v1alpha1',
    kind: 'Event',
    metadata: { name, namespace },
    involvedObject: { ...about, ...(about.kind === 'Node' ? {} : { namespace }) },
    type: 'Normal',
    ...fields,
  };
}

const events = (...args: string[]) => shoalctl(['--server', cluster.url, 'events', ...args]);
const web = { kind: 'VirtualMachine', name: 'web' };

before(async () => {
  cluster = await startCluster();
  await createNamespace(cluster.client, 'ev');
  await createNamespace(cluster.client, 'ev-other');
  await createNamespace(cluster.client, 'ev-none');
  // Created in another order than they happened: the listing must sort them by time.
  await cluster.client.create(
    'Event',
    event('web.1', 'ev', web, { reason: 'Started', message: 'guest booted  ', firstTimestamp: ago(20 * MIN), lastTimestamp: ago(20 * MIN) }),
  );
  await cluster.client.create(
    'Event',
    event('web.0', 'ev', web, { reason: 'Scheduled', message: 'bound to node n1', firstTimestamp: ago(30 * MIN), lastTimestamp: ago(30 * MIN) }),
  );
  await cluster.client.create(
    'Event',
    event(
      'db.0',
      'ev',
      { kind: 'VirtualMachine', name: 'db' },
      {
        type: 'Warning',
        reason: 'BackOff',
        message: 'guest exited, restarting',
        count: 3,
        firstTimestamp: ago(120 * MIN),
        lastTimestamp: ago(15 * MIN),
      },
    ),
  );
  await cluster.client.create('Event', event('mig.0', 'ev', { kind: 'Migration', name: 'web-x7k2p' }, { reason: 'Migrated', message: 'web moved' }));
  await cluster.client.create('Event', event('other.0', 'ev-other', web, { reason: 'Elsewhere', message: 'a web in another namespace' }));
  await cluster.client.create(
    'Event',
    event('n1.0', 'default', { kind: 'Node', name: 'n1' }, { type: 'Warning', reason: 'NodeNotReady', message: 'lease expired' }),
  );
});
after(async () => {
  await cluster?.stop();
  await removeTestHome();
});

// Ages from 10 minutes on are whole minutes, so a few seconds of test time change nothing.
const rows = (out: string) => out.trimEnd().split('\n');

test('events lists a namespace oldest first, with kubectl events columns; a repeated one says how often', async () => {
  const r = await events('-n', 'ev');
  assert.equal(r.exitCode, 0, r.stderr);
  const [header, ...lines] = rows(r.stdout);
  assert.match(header!, /^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE$/);
  assert.equal(lines.length, 4);
  assert.match(lines[0]!, /^30m\s+Normal\s+Scheduled\s+VirtualMachine\/web\s+bound to node n1$/);
  assert.match(lines[1]!, /^20m\s+Normal\s+Started\s+VirtualMachine\/web\s+guest booted$/);
  assert.match(lines[2]!, /^15m\s+\(x3 over 120m\)\s+Warning\s+BackOff\s+VirtualMachine\/db\s+guest exited, restarting$/);
  assert.match(lines[3]!, /^\d+s\s+Normal\s+Migrated\s+Migration\/web-x7k2p\s+web moved$/, 'no timestamps: its creation counts');
  assert.equal(header!.indexOf('TYPE'), lines[2]!.indexOf('Warning'), 'aligned under the header');
});

test('--for KIND/NAME keeps the Events about that object (a cluster-scoped one from any namespace); --types filters by type', async () => {
  const [forWeb, forNode, warnings, reasons] = await Promise.all([
    events('-n', 'ev', '--for', 'vm/web', '--no-headers'),
    events('-n', 'ev', '--for', 'node/n1'),
    events('-A', '--types', 'warning'),
    events('-n', 'ev', '--for', 'virtualmachines/web', '-o', 'jsonpath={.items[*].reason}'),
  ]);
  assert.deepEqual(
    rows(forWeb.stdout).map((l) => l.split(/\s{2,}/)[2]),
    ['Scheduled', 'Started'],
    'not the web of another namespace',
  );
  assert.match(forNode.stdout, /^\d+s\s+Warning\s+NodeNotReady\s+Node\/n1\s+lease expired$/m);
  const [header, ...lines] = rows(warnings.stdout);
  assert.match(header!, /^NAMESPACE\s+LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE$/);
  assert.deepEqual(
    lines.map((l) => l.split(/\s{2,}/)[0]),
    ['ev', 'default'],
    '-A: both namespaces, oldest first',
  );
  assert.equal(reasons.stdout, 'Scheduled Started', 'templates see them in the same order');
});

test('no events is said on stderr; bad flags are usage errors', async () => {
  const [none, badFor, badType, badKind] = await Promise.all([
    events('-n', 'ev-none'),
    events('--for', 'web'),
    events('--types', 'Error'),
    events('--for', 'gadget/x'),
  ]);
  assert.equal(none.exitCode, 0);
  assert.equal(none.stdout, '');
  assert.equal(none.stderr, 'No events found in ev-none namespace.\n');
  assert.equal(badFor.exitCode, 2);
  assert.match(badFor.stderr, /--for must be KIND\/NAME, e\.g\. vm\/web \(got "web"\)/);
  assert.equal(badType.exitCode, 2);
  assert.match(badType.stderr, /--types: "Error" is not an event type; valid types are Normal, Warning/);
  assert.equal(badKind.exitCode, 1);
  assert.match(badKind.stderr, /doesn't have a resource type "gadget"/);
});

test('-w prints the list, then each new Event as it is recorded, until Ctrl-C', async (t) => {
  const cmd = await startShoalctl(['--server', cluster.url, '-n', 'ev', 'events', '--for', 'vm/web', '-w']);
  t.after(() => cmd.child.kill('SIGKILL'));
  await waitFor(() => /Started/.test(cmd.stdout()), { timeoutMs: 20_000, message: 'the listing', lastSeen: () => cmd.stdout() });
  await cluster.client.create('Event', event('web.2', 'ev', web, { reason: 'Stopped', message: 'guest powered off' }));
  await cluster.client.create('Event', event('db.1', 'ev', { kind: 'VirtualMachine', name: 'db' }, { reason: 'NotAboutWeb' }));
  await waitFor(() => /^\d+s\s+Normal\s+Stopped\s+VirtualMachine\/web\s+guest powered off$/m.test(cmd.stdout()), {
    message: 'a row for the new Event',
    lastSeen: () => cmd.stdout(),
  });
  cmd.child.kill('SIGINT');
  const done = await cmd.child;
  assert.equal(done.exitCode, 0, cmd.stderr());
  assert.equal(cmd.stdout().match(/^LAST SEEN/gm)?.length, 1, 'one header');
  assert.doesNotMatch(cmd.stdout(), /NotAboutWeb/);
});
