/**
 * What every command shares, through the real binary: where the server comes from (flags, then
 * $SHOAL_SERVER, then the config file, then the default), TLS settings from the config file,
 * and the exit codes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, makeServerCertificates, startCluster, type TestCertificates, type TestCluster } from '@shoal/testing';
import { removeTestHome, shoalctl } from './test-support/shoalctl.js';

let cluster: TestCluster;
let dir: string;
let dead: string;

before(async () => {
  cluster = await startCluster();
  dir = await mkdtemp(join(tmpdir(), 'shoalctl-config-'));
  dead = `http://127.0.0.1:${await freePort()}`; // nothing listens there
});
after(async () => {
  await cluster?.stop();
  await rm(dir, { recursive: true, force: true });
  await removeTestHome();
});

const reachesServer = (r: { exitCode: number; stdout: string }) => r.exitCode === 0 && /^namespace\.shoal\.dev\/default$/m.test(r.stdout);

test('$SHOAL_SERVER is used, and --server wins over it', async () => {
  assert.ok(reachesServer(await shoalctl(['get', 'ns', '-o', 'name'], { env: { SHOAL_SERVER: cluster.url } })));
  const flagWins = await shoalctl(['--server', cluster.url, 'get', 'ns', '-o', 'name'], { env: { SHOAL_SERVER: dead } });
  assert.ok(reachesServer(flagWins), flagWins.stderr);
  const envDead = await shoalctl(['get', 'ns', '-o', 'name'], { env: { SHOAL_SERVER: dead } });
  assert.equal(envDead.exitCode, 1);
  assert.match(envDead.stderr, /cannot reach the API server.*ECONNREFUSED/);
});

test('the config file is used below flags and $SHOAL_SERVER; --config and $SHOAL_CONFIG name it', async () => {
  const good = join(dir, 'good.yaml');
  const bad = join(dir, 'bad.yaml');
  await writeFile(good, `server: ${cluster.url}\nnamespace: default\n`);
  await writeFile(bad, `server: ${dead}\n`);
  assert.ok(reachesServer(await shoalctl(['--config', good, 'get', 'ns', '-o', 'name'])));
  assert.ok(reachesServer(await shoalctl(['get', 'ns', '-o', 'name'], { env: { SHOAL_CONFIG: good } })));
  assert.ok(reachesServer(await shoalctl(['get', 'ns', '-o', 'name'], { env: { SHOAL_CONFIG: bad, SHOAL_SERVER: cluster.url } })), 'env over file');
  assert.ok(reachesServer(await shoalctl(['--config', bad, '--server', cluster.url, 'get', 'ns', '-o', 'name'])), 'flag over file');
  assert.equal((await shoalctl(['--config', bad, 'get', 'ns'])).exitCode, 1);
});

test('~/.shoal/config.yaml is the default config file', async () => {
  const home = await mkdtemp(join(tmpdir(), 'shoalctl-home-'));
  try {
    await mkdir(join(home, '.shoal'));
    await writeFile(join(home, '.shoal', 'config.yaml'), `server: ${cluster.url}\n`);
    assert.ok(reachesServer(await shoalctl(['get', 'ns', '-o', 'name'], { env: { HOME: home } })));
  } finally {
    await rm(home, { recursive: true, force: true });
  }
});

test('a broken config file is a usage error (exit 2) that names the problem', async () => {
  const typo = join(dir, 'typo.yaml');
  await writeFile(typo, 'sever: http://x\n');
  const r = await shoalctl(['--config', typo, 'get', 'ns']);
  assert.equal(r.exitCode, 2);
  assert.match(r.stderr, /unknown field "sever"/);
  const missing = await shoalctl(['--config', join(dir, 'nope.yaml'), 'get', 'ns']);
  assert.equal(missing.exitCode, 2);
});

test('TLS settings come from the config file: CA (relative to the file), or the insecure opt-out', async (t) => {
  const certs: TestCertificates = await makeServerCertificates();
  const secure = await cluster.startApiserver({ args: ['--tls-cert-file', certs.certFile, '--tls-private-key-file', certs.keyFile] });
  t.after(async () => {
    await secure.stop();
    await rm(certs.dir, { recursive: true, force: true });
  });
  const https = secure.url;
  await writeFile(join(certs.dir, 'config.yaml'), `server: ${https}\ncertificateAuthority: ca.crt\n`);
  assert.ok(reachesServer(await shoalctl(['--config', join(certs.dir, 'config.yaml'), 'get', 'ns', '-o', 'name'])));
  assert.ok(reachesServer(await shoalctl(['--server', https, '--certificate-authority', certs.caFile, 'get', 'ns', '-o', 'name'])));
  const untrusted = await shoalctl(['--server', https, 'get', 'ns']);
  assert.equal(untrusted.exitCode, 1);
  assert.match(untrusted.stderr, /certificate/i);
  assert.ok(reachesServer(await shoalctl(['--server', https, '--insecure-skip-tls-verify', 'get', 'ns', '-o', 'name'])));
});

test('usage errors exit 2; version and api-resources work', async () => {
  assert.equal((await shoalctl([])).exitCode, 2);
  assert.equal((await shoalctl(['frobnicate'])).exitCode, 2);
  assert.equal((await shoalctl(['get'])).exitCode, 2);
  const v = await shoalctl(['--server', cluster.url, 'version']);
  assert.equal(v.exitCode, 0, v.stderr);
  assert.match(v.stdout, /^Client Version: v\d+\.\d+\.\d+\nServer Version: \S+\n$/);
  const res = await shoalctl(['api-resources']);
  assert.match(res.stdout, /^virtualmachines\s+vm,vms\s+shoal\.dev\/v1alpha1\s+true\s+VirtualMachine$/m);
});
