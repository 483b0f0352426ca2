/**
 * `shoal up` (what `npm start` runs): the whole cluster from one command, the example VM Running,
 * its console through the apiserver while the agent's endpoint refuses anyone else, every
 * component's metrics readable with the credentials it wrote for Prometheus, a clean stop.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { Agent, request } from 'undici';
import { nodeOptionsOf } from '@shoal/api';
import { REPO_ROOT, commandLineOf, freePort, nodeFlagsBefore, waitFor } from '@shoal/testing';

test('shoal up starts everything, boots the example VM, and Ctrl-C stops it all', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'shoal-up-'));
  const port = await freePort();
  const etcdPort = await freePort();
  const etcdPeerPort = await freePort();
  const controllerManagerPort = await freePort();
  const agentPort = await freePort();
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
      '--controller-manager-port',
      String(controllerManagerPort),
      '--agent-port',
      String(agentPort),
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
    assert.equal(agentAddress, `https://127.0.0.1:${agentPort}`);
    const trustingCa = new Agent({ connect: { ca: await readFile(join(dataDir, 'pki', 'ca.crt')) } });
    try {
      const direct = await request(`${agentAddress}/logs/default/hello`, { dispatcher: trustingCa });
      assert.equal(direct.statusCode, 401);
      assert.doesNotMatch(await direct.body.text(), /hello from/);
    } finally {
      await trustingCa.close();
    }
    // Prometheus's credentials (README: Monitoring): the token for the apiserver's /metrics, the
    // client certificate for the agent's /metrics (not its consoles); the controller-manager's on its port.
    const pki = join(dataDir, 'pki');
    const ca = await readFile(join(pki, 'ca.crt'));
    const caOnly = new Agent({ connect: { ca } });
    const withCertificate = new Agent({ connect: { ca, cert: await readFile(join(pki, 'prometheus.crt')), key: await readFile(join(pki, 'prometheus.key')) } });
    try {
      const token = (await readFile(join(pki, 'prometheus.token'), 'utf8')).trim();
      const apiMetrics = await request(`https://127.0.0.1:${port}/metrics`, { dispatcher: caOnly, headers: { authorization: `Bearer ${token}` } });
      assert.equal(apiMetrics.statusCode, 200);
      assert.match(await apiMetrics.body.text(), /^shoal_apiserver_requests_total\{/m);
      const agentMetrics = await request(`${agentAddress}/metrics`, { dispatcher: withCertificate });
      assert.equal(agentMetrics.statusCode, 200);
      assert.match(await agentMetrics.body.text(), /^shoal_agent_vm_crash_loop_backoff\{namespace="default",vm="hello"\} 0$/m);
      const agentConsole = await request(`${agentAddress}/logs/default/hello`, { dispatcher: withCertificate });
      assert.equal(agentConsole.statusCode, 403);
      await agentConsole.body.dump();
    } finally {
      await caOnly.close();
      await withCertificate.close();
    }
    const cmMetrics = await (await fetch(`http://127.0.0.1:${controllerManagerPort}/metrics`)).text();
    assert.match(cmMetrics, /^shoal_node_ready\{node="up-test"\} 1$/m);
    // node runs the controller-manager with the flags its bin line gives it (a larger young generation).
    const cmArgv = await commandLineOf((argv) => argv.includes(join(dataDir, 'gitops-cache')));
    assert.ok(nodeOptionsOf('shoal-controller-manager').length > 0);
    assert.deepEqual(nodeFlagsBefore(cmArgv, 'shoal-controller-manager'), [...nodeOptionsOf('shoal-controller-manager')], cmArgv.join(' '));

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
