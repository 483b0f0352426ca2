/**
 * `shoal up` (what `npm start` runs): the whole cluster from one command, the example VM Running,
 * its console through the apiserver while the agent's endpoint refuses anyone else, a clean stop.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { Agent, request } from 'undici';
import { REPO_ROOT, freePort, waitFor } from '@shoal/testing';

test('shoal up starts everything, boots the example VM, and Ctrl-C stops it all', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'shoal-up-'));
  const port = await freePort();
  const etcdPort = await freePort();
  const etcdPeerPort = await freePort();
  const up = execa(
    'node',
    [
      join(REPO_ROOT, 'bin/shoal.js'),
      'up',
      '--data-dir',
      dataDir,
      '--port',
      String(port),
      '--etcd-port',
      String(etcdPort),
      '--etcd-peer-port',
      String(etcdPeerPort),
      '--node-name',
      'up-test',
    ],
    {
      all: true,
      buffer: false,
      reject: false,
    },
  );
  let out = '';
  up.all!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  try {
    // Fails at once with the output if shoal up exits instead of coming up.
    const exitedEarly = up.then(() => {
      throw new Error(`shoal up exited before it was running:\n${out}`);
    });
    exitedEarly.catch(() => undefined); // it also settles, harmlessly, when the test stops shoal up
    await Promise.race([
      waitFor(() => out.includes('Shoal is running'), { timeoutMs: 180_000, message: 'shoal up to say it is running' }).catch((err: Error) => {
        throw new Error(`${err.message}\noutput:\n${out}`);
      }),
      exitedEarly,
    ]);
    assert.match(out, /vm\/hello: Running/);
    // The apiserver is HTTPS and wants credentials: shoalctl uses the config shoal up wrote (and printed).
    const shoalConfig = join(dataDir, 'config.yaml');
    assert.ok(out.includes(`export SHOAL_CONFIG=${shoalConfig}`), out);
    const get = await execa('node', [join(REPO_ROOT, 'bin/shoalctl.js'), 'get', 'vms'], { env: { SHOAL_CONFIG: shoalConfig } });
    assert.match(get.stdout, /hello\s+Running\s+up-test/);
    const kubectl = await execa('kubectl', ['--kubeconfig', join(dataDir, 'kubeconfig'), '--cache-dir', join(dataDir, 'kube-cache'), 'get', 'vms'], {
      env: { HOME: dataDir },
    });
    assert.match(kubectl.stdout, /hello\s+Running/);
    const anonymous = await execa('node', [join(REPO_ROOT, 'bin/shoalctl.js'), 'get', 'vms', '--insecure-skip-tls-verify'], {
      env: { SHOAL_SERVER: `https://127.0.0.1:${port}`, SHOAL_CONFIG: '', HOME: dataDir },
      reject: false,
    });
    assert.notEqual(anonymous.exitCode, 0, 'without the token the apiserver says no');
    assert.match(anonymous.stderr, /Unauthorized/);

    // The console, through the apiserver (which shows the agent its client certificate) ...
    const logs = await waitFor(
      async () => {
        const r = await execa('node', [join(REPO_ROOT, 'bin/shoalctl.js'), 'logs', 'hello'], { env: { SHOAL_CONFIG: shoalConfig }, reject: false });
        return r.exitCode === 0 && /hello from/.test(r.stdout) ? r : undefined;
      },
      { timeoutMs: 30_000, message: 'the guest saying hello in shoalctl logs' },
    );
    assert.match(logs.stdout, /^SHOAL-BOOTED uid=/m);
    // ... while the agent's own endpoint is HTTPS from the cluster CA and refuses a client without that certificate.
    const node = JSON.parse(
      (await execa('node', [join(REPO_ROOT, 'bin/shoalctl.js'), 'get', 'node', 'up-test', '-o', 'json'], { env: { SHOAL_CONFIG: shoalConfig } })).stdout,
    );
    const agentAddress: string = node.status.agentAddress;
    assert.match(agentAddress, /^https:\/\/127\.0\.0\.1:\d+$/);
    const trustingCa = new Agent({ connect: { ca: await readFile(join(dataDir, 'pki', 'ca.crt')) } });
    try {
      const direct = await request(`${agentAddress}/logs/default/hello`, { dispatcher: trustingCa });
      assert.equal(direct.statusCode, 401);
      assert.doesNotMatch(await direct.body.text(), /hello from/);
    } finally {
      await trustingCa.close();
    }
    const vmDirs = await readdir(join(dataDir, 'agent', 'vms'));
    assert.equal(vmDirs.length, 1);
    const qemuPid = Number((await readFile(join(dataDir, 'agent', 'vms', vmDirs[0]!, 'qemu.pid'), 'utf8')).trim());

    up.kill('SIGINT');
    const result = await up;
    assert.equal(result.exitCode, 0, out);
    assert.match(out, /shoal: stopped/);
    assert.throws(() => process.kill(qemuPid, 0), 'the example VM stopped with the cluster');
    await assert.rejects(fetch(`https://127.0.0.1:${port}/healthz`), 'the apiserver is gone');
  } finally {
    up.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  }
});
