/**
 * What `shoal up` checks and writes before any process starts: its port flags, through the real
 * binary (a bad one exits 2 and starts nothing), and the credentials it makes under the data dir
 * for Prometheus, with the real openssl.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { REPO_ROOT } from '@shoal/testing';
import { ensureCredentials } from './credentials.js';
import { portsError } from './ports.js';

let dataDir: string;

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'shoal-up-setup-'));
});
after(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

test('ports: whole numbers 1-65535, no two the same', () => {
  const ok = { port: 6443, 'etcd-port': 2479, 'etcd-peer-port': 2480, 'controller-manager-port': 10257, 'agent-port': 10250 };
  assert.equal(portsError(ok), undefined);
  assert.equal(portsError({ ...ok, 'agent-port': 0 }), '--agent-port must be a port number 1-65535, got 0');
  assert.equal(portsError({ ...ok, 'controller-manager-port': 70000 }), '--controller-manager-port must be a port number 1-65535, got 70000');
  assert.equal(portsError({ ...ok, 'agent-port': 6443 }), '--agent-port and --port are both 6443: each needs a port of its own');
  assert.equal(portsError({ ...ok, 'etcd-peer-port': 10257 }), '--controller-manager-port and --etcd-peer-port are both 10257: each needs a port of its own');
});

test('shoal up with a bad port flag exits 2 saying which, and starts nothing', async () => {
  const dir = join(dataDir, 'never-made');
  const run = (...args: string[]) => execa('node', [join(REPO_ROOT, 'bin/shoal.js'), 'up', '--data-dir', dir, ...args], { reject: false, timeout: 30_000 });
  const [clash, nonsense, peerClash] = await Promise.all([
    run('--agent-port', '6443'),
    run('--controller-manager-port', 'x'),
    // The peer port defaults to the etcd port + 1.
    run('--etcd-port', '10249'),
  ]);
  assert.equal(clash.exitCode, 2);
  assert.match(clash.stderr, /^shoal: --agent-port and --port are both 6443: each needs a port of its own$/m);
  assert.equal(nonsense.exitCode, 2);
  assert.match(nonsense.stderr, /--controller-manager-port must be a port number 1-65535, got NaN/);
  assert.equal(peerClash.exitCode, 2);
  assert.match(peerClash.stderr, /--agent-port and --etcd-peer-port are both 10250/);
  assert.equal(existsSync(dir), false, 'nothing was written');
});

test("Prometheus's credentials: a token in group system:monitoring in the token file and alone in prometheus.token, a client certificate with O=system:monitoring", async () => {
  const creds = await ensureCredentials(dataDir, { bind: '127.0.0.1', agentBind: '127.0.0.1', nodeNames: ['n1'] });
  const { token, tokenFile, certificate } = creds.monitoring;
  assert.equal(tokenFile, join(dataDir, 'pki', 'prometheus.token'));
  assert.equal(await readFile(tokenFile, 'utf8'), `${token}\n`);
  assert.equal((await stat(tokenFile)).mode & 0o777, 0o600);
  const csv = await readFile(creds.tokenFile, 'utf8');
  assert.ok(csv.split('\n').includes(`${token},prometheus,prometheus,"system:monitoring"`), csv);

  assert.deepEqual(certificate, { certFile: join(dataDir, 'pki', 'prometheus.crt'), keyFile: join(dataDir, 'pki', 'prometheus.key') });
  const text = (await execa('openssl', ['x509', '-in', certificate.certFile, '-noout', '-subject', '-ext', 'extendedKeyUsage'])).stdout;
  assert.match(text, /subject=CN = prometheus, O = system:monitoring/);
  assert.match(text, /TLS Web Client Authentication/);
  const verified = await execa('openssl', ['verify', '-CAfile', creds.caFile, certificate.certFile]);
  assert.match(verified.stdout, /: OK$/);

  // Started again: the same token (a running Prometheus keeps working), a certificate made afresh.
  const again = await ensureCredentials(dataDir, { bind: '127.0.0.1', agentBind: '127.0.0.1', nodeNames: ['n1'] });
  assert.equal(again.monitoring.token, token);
  assert.equal((await readFile(again.tokenFile, 'utf8')).split('\n').filter((l) => l.includes(',prometheus,')).length, 1);
});
