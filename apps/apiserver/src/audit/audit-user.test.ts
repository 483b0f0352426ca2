/**
 * The audit log with authentication on (--token-auth-file): entries name the authenticated
 * user and groups; requests refused by authentication are logged as system:anonymous.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { http, REPO_ROOT, startCluster, waitFor } from '@shoal/testing';

const VMS = '/apis/shoal.dev/v1alpha1/namespaces/default/virtualmachines';
let dir: string;

const vm = (name: string) => ({
  apiVersion: 'shoal.dev/v1alpha1',
  kind: 'VirtualMachine',
  metadata: { name },
  spec: { resources: { vcpus: 1, memoryMiB: 128 } },
});

async function entries(path: string): Promise<any[]> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

async function verify(path: string) {
  const r = await execa('node', [`${REPO_ROOT}bin/shoalctl.js`, 'audit', 'verify', path], { reject: false, cwd: REPO_ROOT, env: { HOME: dir } });
  return { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-audit-user-'));
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('with authentication on, entries name the authenticated user; refused requests are logged too', async () => {
  const tokens = join(dir, 'tokens.csv');
  await writeFile(tokens, 'secret-alice,alice,1001,"system:masters,ops"\n');
  const authLog = join(dir, 'auth-audit.log');
  const cluster = await startCluster({ apiserverArgs: ['--audit-log-path', authLog, '--token-auth-file', tokens] });
  const secured = cluster.apiserver;
  try {
    const ok = await http(secured.url, 'POST', VMS, vm('by-alice'), { authorization: 'Bearer secret-alice' });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    const refused = await http(secured.url, 'POST', VMS, vm('by-nobody'));
    assert.equal(refused.status, 401);
    const log = await waitFor(async () => ((await entries(authLog)).length >= 2 ? entries(authLog) : undefined));
    const [a, n] = [log.find((e) => e.name === 'by-alice'), log.find((e) => e.code === 401)];
    assert.equal(a.user, 'alice');
    assert.deepEqual([...a.groups].sort(), ['ops', 'system:authenticated', 'system:masters']);
    assert.deepEqual(
      { user: n.user, verb: n.verb, resource: n.resource, reason: n.reason },
      { user: 'system:anonymous', verb: 'create', resource: 'virtualmachines', reason: 'Unauthorized' },
    );
    assert.equal((await verify(authLog)).stdout, 'OK: 2 entries, chain intact');
  } finally {
    await cluster.stop();
  }
});
