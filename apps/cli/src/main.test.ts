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
  // Independent runs of the binary: side by side, here and below.
  const [fromEnv, flagWins, envDead] = await Promise.all([
    shoalctl(['get', 'ns', '-o', 'name'], { env: { SHOAL_SERVER: cluster.url } }),
    shoalctl(['--server', cluster.url, 'get', 'ns', '-o', 'name'], { env: { SHOAL_SERVER: dead } }),
    shoalctl(['get', 'ns', '-o', 'name'], { env: { SHOAL_SERVER: dead } }),
  ]);
  assert.ok(reachesServer(fromEnv));
  assert.ok(reachesServer(flagWins), flagWins.stderr);
  assert.equal(envDead.exitCode, 1);
  assert.match(envDead.stderr, /cannot reach the API server.*ECONNREFUSED/);
});

test('the config file is used below flags and $SHOAL_SERVER; --config and $SHOAL_CONFIG name it', async () => {
  const good = join(dir, 'good.yaml');
  const bad = join(dir, 'bad.yaml');
  await writeFile(good, `server: ${cluster.url}\nnamespace: default\n`);
  await writeFile(bad, `server: ${dead}\n`);
  const [byFlag, byEnv, envOverFile, flagOverFile, fromBad] = await Promise.all([
    shoalctl(['--config', good, 'get', 'ns', '-o', 'name']),
    shoalctl(['get', 'ns', '-o', 'name'], { env: { SHOAL_CONFIG: good } }),
    shoalctl(['get', 'ns', '-o', 'name'], { env: { SHOAL_CONFIG: bad, SHOAL_SERVER: cluster.url } }),
    shoalctl(['--config', bad, '--server', cluster.url, 'get', 'ns', '-o', 'name']),
    shoalctl(['--config', bad, 'get', 'ns']),
  ]);
  assert.ok(reachesServer(byFlag));
  assert.ok(reachesServer(byEnv));
  assert.ok(reachesServer(envOverFile), 'env over file');
  assert.ok(reachesServer(flagOverFile), 'flag over file');
  assert.equal(fromBad.exitCode, 1);
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
  const [r, missing] = await Promise.all([shoalctl(['--config', typo, 'get', 'ns']), shoalctl(['--config', join(dir, 'nope.yaml'), 'get', 'ns'])]);
  assert.equal(r.exitCode, 2);
  assert.match(r.stderr, /unknown field "sever"/);
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
  const [fromFile, byFlag, untrusted, insecure] = await Promise.all([
    shoalctl(['--config', join(certs.dir, 'config.yaml'), 'get', 'ns', '-o', 'name']),
    shoalctl(['--server', https, '--certificate-authority', certs.caFile, 'get', 'ns', '-o', 'name']),
    shoalctl(['--server', https, 'get', 'ns']),
    shoalctl(['--server', https, '--insecure-skip-tls-verify', 'get', 'ns', '-o', 'name']),
  ]);
  assert.ok(reachesServer(fromFile));
  assert.ok(reachesServer(byFlag));
  assert.equal(untrusted.exitCode, 1);
  assert.match(untrusted.stderr, /certificate/i);
  assert.ok(reachesServer(insecure));
});

test('usage errors exit 2; version and api-resources work', async () => {
  const [none, unknown, noKind, v, res] = await Promise.all([
    shoalctl([]),
    shoalctl(['frobnicate']),
    shoalctl(['get']),
    shoalctl(['--server', cluster.url, 'version']),
    shoalctl(['api-resources']),
  ]);
  assert.equal(none.exitCode, 2);
  assert.equal(unknown.exitCode, 2);
  assert.equal(noKind.exitCode, 2);
  assert.equal(v.exitCode, 0, v.stderr);
  assert.match(v.stdout, /^Client Version: v\d+\.\d+\.\d+\nServer Version: \S+\n$/);
  assert.match(res.stdout, /^virtualmachines\s+vm,vms\s+shoal\.dev\/v1alpha1\s+true\s+VirtualMachine$/m);
});
