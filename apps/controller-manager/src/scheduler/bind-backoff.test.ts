/**
 * A bind the apiserver keeps refusing backs off exponentially through the scheduler's queue,
 * is logged at warn each time and counted, and succeeds once the server allows it: a real etcd,
 * a real apiserver with token authentication and RBAC, and the real controller-manager running
 * the scheduler as a user whose role grants everything the scheduler does except
 * virtualmachines/binding.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ShoalClient } from '@shoal/client';
import { waitFor } from '@shoal/testing';
import { addNode, addVm, boundTo, getVm, metric, withCluster } from '../test-support/scheduler-cluster.js';

const ADMIN_TOKEN = 'admin-token';
const SCHEDULER_TOKEN = 'scheduler-without-binding-token';
const SCHEDULER_USER = 'scheduler-without-binding';
const G = 'shoal.dev';

/** The scheduler's rights (its informers, its status writes and Events), bindings left out or not. */
const schedulerRules = (mayBind: boolean) => [
  { apiGroups: [G], resources: ['virtualmachines'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: [G], resources: ['nodes', 'placementpolicies', 'volumes', 'storagepools'], verbs: ['list', 'watch'] },
  { apiGroups: [G], resources: ['virtualmachines/status'], verbs: ['patch'] },
  { apiGroups: [G], resources: ['events'], verbs: ['create', 'patch'] },
  ...(mayBind ? [{ apiGroups: [G], resources: ['virtualmachines/binding'], verbs: ['create'] }] : []),
];

interface LogLine {
  time: number;
  level: number;
  msg: string;
  vm?: string;
  failures?: number;
  code?: number;
}

const bindFailures = (output: string, vm: string): LogLine[] =>
  output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine)
    .filter((l) => l.msg === 'bind failed; retrying with backoff' && l.vm === vm);

test('a bind refused by RBAC is retried with doubling gaps (not every 5 ms), logged at warn and counted, and succeeds once allowed', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-bind-backoff-'));
  const tokenFile = join(dir, 'tokens.csv');
  await writeFile(tokenFile, [`${ADMIN_TOKEN},admin,1,system:masters`, `${SCHEDULER_TOKEN},${SCHEDULER_USER},2,`].join('\n'));
  const grant = (client: ShoalClient) =>
    client.create('clusterrolebinding', {
      metadata: { name: SCHEDULER_USER },
      subjects: [{ kind: 'User', name: SCHEDULER_USER }],
      roleRef: { kind: 'ClusterRole', name: SCHEDULER_USER },
    });
  try {
    await withCluster(
      async ({ client, cm, metricsUrl }) => {
        await addNode(client, 'n1');
        await addVm(client, 'refused');
        const FAILURES = 10;
        const seen = await waitFor(
          () => {
            const lines = bindFailures(cm.output(), 'default/refused');
            return lines.length >= FAILURES ? lines : undefined;
          },
          { timeoutMs: 60_000, message: `${FAILURES} refused binds` },
        );

        // Each failure at warn (pino's 40), numbered in a row, the server's 403 said.
        assert.deepEqual(
          seen.map((l) => l.failures),
          seen.map((_, i) => i + 1),
        );
        for (const l of seen) assert.deepEqual([l.level, l.code], [40, 403]);
        // The gap after the k-th failure is at least the queue's backoff for it, 5 ms × 2^(k-1):
        // before, every retry started again at 5 ms (9 retries within about 50 ms).
        const gaps = seen.slice(1).map((l, i) => l.time - seen[i]!.time);
        gaps.forEach((gap, i) => assert.ok(gap >= 5 * 2 ** i - 1, `gap ${i + 1} is ${gap} ms, less than its backoff ${5 * 2 ** i} ms: ${gaps.join(', ')}`));
        assert.ok(seen.at(-1)!.time - seen[0]!.time >= 5 * (2 ** (FAILURES - 1) - 1) - FAILURES, 'the retries spread out over seconds');

        // Counted by reason, as the logs say.
        const before = bindFailures(cm.output(), 'default/refused').length;
        const counted = await metric(metricsUrl, /shoal_scheduler_bind_failures_total\{reason="Forbidden"\} (\d+)/);
        const after = bindFailures(cm.output(), 'default/refused').length;
        assert.ok(counted >= before && counted <= after, `metric ${counted}, logged ${before}..${after}`);
        assert.equal((await getVm(client, 'refused')).spec.nodeName, undefined);

        // Allowed now: the next retry binds it (within the backoff reached, about 2.5–5 s).
        await client.patch('clusterrole', SCHEDULER_USER, { rules: schedulerRules(true) }, { type: 'merge' });
        assert.equal(await boundTo(client, 'refused'), 'n1');
        assert.ok((await getVm(client, 'refused')).status?.conditions?.some((c) => c.type === 'Scheduled' && c.status === 'True'));
      },
      ['--controllers', 'scheduler', '--token', SCHEDULER_TOKEN],
      {
        apiserverArgs: ['--token-auth-file', tokenFile, '--authorization-mode', 'RBAC'],
        token: ADMIN_TOKEN,
        before: async (client) => {
          await client.create('clusterrole', { metadata: { name: SCHEDULER_USER }, rules: schedulerRules(false) });
          await grant(client);
        },
      },
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
