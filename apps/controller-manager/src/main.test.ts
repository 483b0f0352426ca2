/**
 * The shoal-controller-manager command-line contract, through the real binary: flags and exit
 * codes, the ready line, /healthz /readyz /metrics, waiting for an API server that is not up
 * yet, surviving an apiserver restart, and a clean stop on SIGTERM.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { ShoalClient } from '@shoal/client';
import { freePort, REPO_ROOT, startApiserver, startCluster, startEtcd, startProcess, waitFor, waitForObject } from '@shoal/testing';

const BIN = `${REPO_ROOT}bin/shoal-controller-manager.js`;

async function run(args: string[], env: Record<string, string> = {}) {
  return execa('node', [BIN, ...args], { reject: false, env: { SHOAL_SERVER: '', ...env }, timeout: 30_000 });
}

test('bad flags exit 2 with a clear message', async () => {
  const cases: [string[], RegExp][] = [
    [[], /--server URL \(or \$SHOAL_SERVER\) is required/],
    [['--server', 'ftp://example.com'], /--server: "ftp:\/\/example.com" is not an http\(s\) URL/],
    [
      ['--server', 'http://127.0.0.1:1', '--controllers', 'scheduler,nope'],
      /--controllers: unknown controller "nope"; available: scheduler, health, preemptor, namespace, resourcequota, volume, migration, evacuation/,
    ],
    [['--server', 'http://127.0.0.1:1', '--preemption-min-priority-gap', '0'], /--preemption-min-priority-gap must be a whole number ≥ 1/],
    [['--server', 'http://127.0.0.1:1', '--node-monitor-grace-period', '-1'], /--node-monitor-grace-period must be ≥ 0 seconds/],
    [['--server', 'http://127.0.0.1:1', '--port', '70000'], /--port must be an integer 0-65535, got 70000/],
    [['--server', 'http://127.0.0.1:1', '--port', 'abc'], /--port must be an integer 0-65535/],
    [['--server', 'http://127.0.0.1:1', '--bogus'], /Unknown argument: bogus/],
    [['--server', 'http://127.0.0.1:1', '--log-level', 'loud'], /Invalid values:[\s\S]*log-level/],
    [
      ['--server', 'http://127.0.0.1:1', '--leader-elect', '--leader-elect-renew-deadline', '20'],
      /renew deadline \(20 s\) must be less than the lease duration \(4 s\)/,
    ],
    [
      ['--server', 'http://127.0.0.1:1', '--leader-elect-lease-duration', '2.5'],
      /--leader-elect-lease-duration 2.5 .*lease duration must be a whole number of seconds/,
    ],
    [['--server', 'http://127.0.0.1:1', '--leader-elect-retry-period', '9'], /must be more than 1.2 × the retry period \(9 s\)/],
    [['--server', 'http://127.0.0.1:1', '--leader-elect-retry-period', 'soon'], /retry period must be more than 0/],
    [['--server', 'http://127.0.0.1:1', '--leader-elect-identity', ' '], /--leader-elect-identity must be 1-1024 characters/],
    [
      ['--server', 'http://127.0.0.1:1', '--controllers', 'health', '--controller-tokens-dir', '/nonexistent'],
      /--controller-tokens-dir: cannot read \/nonexistent\/health\.token/,
    ],
  ];
  const [help, ...results] = await Promise.all([run(['--help']), ...cases.map(([args]) => run(args))]);
  for (const [i, [args, message]] of cases.entries()) {
    const r = results[i]!;
    assert.equal(r.exitCode, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.match(r.stderr, /^shoal-controller-manager: /);
  }
  assert.equal(help.exitCode, 0);
  assert.match(help.stdout, /--controllers/);
  for (const flag of [
    '--leader-elect ',
    '--leader-elect-lease-duration',
    '--leader-elect-renew-deadline',
    '--leader-elect-retry-period',
    '--leader-elect-identity',
  ])
    assert.ok(help.stdout.includes(flag), `--help lists ${flag}`);
});

test('$SHOAL_SERVER, the ready line, /healthz /readyz /metrics, and a clean stop on SIGTERM', async () => {
  const cp = await startCluster();
  let cm: Awaited<ReturnType<typeof startProcess>> | undefined;
  try {
    cm = await startProcess('shoal-controller-manager', ['--controllers', 'scheduler', '--port', '0'], { ready: /ready on/, env: { SHOAL_SERVER: cp.url } });
    const m = /^shoal-controller-manager ready on (http:\/\/127\.0\.0\.1:(\d+)) \(controllers: scheduler\)$/.exec(cm.readyLine);
    assert.ok(m, cm.readyLine);
    assert.notEqual(m![2], '10257', '--port 0 picks a free port');
    const base = m![1]!;
    assert.equal(await (await fetch(`${base}/healthz`)).text(), 'ok');
    const ready = await fetch(`${base}/readyz`);
    assert.equal(ready.status, 200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    for (const name of [
      'shoal_workqueue_depth{name="scheduler"}',
      'shoal_workqueue_retries_total{name="scheduler"}',
      'shoal_controller_reconcile_errors_total{controller="scheduler"}',
      'shoal_controller_reconcile_duration_seconds_bucket',
      'shoal_controller_active_workers{controller="scheduler"}',
      'shoal_leader_is_leader{controller="scheduler"} 1',
      'shoal_controller_manager_process_resident_memory_bytes',
    ])
      assert.ok(metrics.includes(name), `metrics include ${name}`);
    assert.equal((await fetch(`${base}/nope`)).status, 404);
    await cm.stop();
    assert.deepEqual(await cm.exited, { exitCode: 0, signal: undefined });
  } finally {
    await cm?.stop();
    await cp.stop();
  }
});

test('waits for an API server that is not up yet (not ready meanwhile), then schedules; survives an apiserver restart', async () => {
  const etcd = await startEtcd();
  const apiPort = await freePort();
  const healthPort = await freePort();
  const server = `http://127.0.0.1:${apiPort}`;
  const starting = startProcess('shoal-controller-manager', ['--server', server, '--port', String(healthPort)], { ready: /ready on/, timeoutMs: 60_000 });
  starting.catch(() => undefined);
  let apiserver: Awaited<ReturnType<typeof startApiserver>> | undefined;
  const client = new ShoalClient({ server });
  try {
    const readyz = await waitFor(async () => {
      const r = await fetch(`http://127.0.0.1:${healthPort}/readyz`);
      return r.status === 503 ? r.text() : undefined;
    });
    assert.match(readyz, /not ready: informers not synced/);
    assert.equal((await fetch(`http://127.0.0.1:${healthPort}/healthz`)).status, 200);

    apiserver = await startApiserver({ etcd: etcd.endpoint, port: apiPort });
    const cm = await starting;
    assert.match(cm.readyLine, new RegExp(`ready on http://127\\.0\\.0\\.1:${healthPort} `));
    const room = { vcpus: 2, memoryMiB: 2048 };
    await client.create('node', { metadata: { name: 'n1' }, spec: {} });
    await client.patch(
      'node',
      'n1',
      { status: { allocatable: room, capacity: room, conditions: [{ type: 'Ready', status: 'True' }] } },
      { type: 'merge', status: true },
    );
    await client.create('vm', { metadata: { name: 'before' }, spec: {} });
    await waitForObject(client, 'VirtualMachine', 'before', (v) => v.spec.nodeName === 'n1', { message: 'bound to n1' });

    await apiserver.stop();
    apiserver = await startApiserver({ etcd: etcd.endpoint, port: apiPort });
    await client.create('vm', { metadata: { name: 'after' }, spec: {} });
    await waitForObject(client, 'VirtualMachine', 'after', (v) => v.spec.nodeName === 'n1', {
      timeoutMs: 30_000,
      message: 'created after the apiserver restart, bound to n1',
    });
    await cm.stop();
    assert.equal((await cm.exited).exitCode, 0);
  } finally {
    await client.close();
    await (await starting.catch(() => undefined))?.stop();
    await apiserver?.stop();
    await etcd.stop();
  }
});
