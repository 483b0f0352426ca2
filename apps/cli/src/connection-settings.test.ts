import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from './cli-errors.js';
import { loadConfigFile, parseConfig } from './config-file.js';
import { DEFAULT_SERVER, configPath, resolveSettings } from './connection-settings.js';

test('flags win over the environment, which wins over the file, which wins over the default', () => {
  const file = { server: 'http://file:1', token: 'file-token', namespace: 'file-ns' };
  const env = { SHOAL_SERVER: 'http://env:1' };
  assert.equal(resolveSettings({ server: 'http://flag:1' }, env, file).server, 'http://flag:1');
  assert.equal(resolveSettings({}, env, file).server, 'http://env:1');
  assert.equal(resolveSettings({}, {}, file).server, 'http://file:1');
  assert.equal(resolveSettings({}, {}, {}).server, DEFAULT_SERVER);
  assert.equal(resolveSettings({ token: 'flag-token' }, {}, file).token, 'flag-token');
  assert.equal(resolveSettings({}, {}, file).token, 'file-token');
  assert.equal(resolveSettings({}, {}, file).namespace, 'file-ns');
  assert.equal(resolveSettings({ namespace: 'n' }, {}, file).namespace, 'n');
  assert.equal(resolveSettings({}, {}, {}).namespace, 'default');
  assert.equal(resolveSettings({ insecureSkipTlsVerify: false }, {}, { insecureSkipTLSVerify: true }).insecureSkipTLSVerify, false);
});

test('a server that is not an http(s) URL is a usage error', () => {
  assert.throws(() => resolveSettings({ server: 'localhost:6443' }, {}, {}), UsageError);
  assert.throws(() => resolveSettings({ server: 'https://a:6443,localhost:6443' }, {}, {}), UsageError);
});

test('several apiservers: comma-separated in a flag, $SHOAL_SERVER or the file, or a YAML list in the file', () => {
  assert.equal(resolveSettings({ server: 'https://a:6443,https://b:6443' }, {}, {}).server, 'https://a:6443,https://b:6443');
  assert.equal(resolveSettings({}, { SHOAL_SERVER: 'https://a:6443,https://b:6443' }, {}).server, 'https://a:6443,https://b:6443');
  assert.equal(parseConfig('server:\n  - https://a:6443\n  - https://b:6443\n', '/c.yaml').server, 'https://a:6443,https://b:6443');
  assert.throws(() => parseConfig('server: [1, 2]\n', '/c.yaml'), /server must be a string or a list of strings/);
});

test('the config file: $SHOAL_CONFIG, relative CA paths, strict fields', async () => {
  assert.deepEqual(configPath({}, { SHOAL_CONFIG: '/x.yaml' }), { path: '/x.yaml', explicit: true });
  assert.deepEqual(configPath({ config: '/y.yaml' }, { SHOAL_CONFIG: '/x.yaml' }), { path: '/y.yaml', explicit: true });
  assert.equal(configPath({}, {}).explicit, false);
  assert.deepEqual(parseConfig('server: https://a:6443\ncertificateAuthority: ca.pem\ninsecureSkipTLSVerify: false\n', '/etc/shoal/config.yaml'), {
    server: 'https://a:6443',
    certificateAuthority: '/etc/shoal/ca.pem',
    insecureSkipTLSVerify: false,
  });
  assert.deepEqual(parseConfig('', '/c.yaml'), {});
  assert.throws(() => parseConfig('sever: http://typo\n', '/c.yaml'), /unknown field "sever"/);
  assert.throws(() => parseConfig('insecureSkipTLSVerify: "yes"\n', '/c.yaml'), /must be a boolean/);
  assert.throws(() => parseConfig('- a\n', '/c.yaml'), /mapping/);

  const dir = await mkdtemp(join(tmpdir(), 'shoal-config-'));
  try {
    assert.deepEqual(loadConfigFile(join(dir, 'missing.yaml'), false), {}, 'a missing default file is no config');
    assert.throws(() => loadConfigFile(join(dir, 'missing.yaml'), true), UsageError, 'a missing named file is an error');
    await writeFile(join(dir, 'c.yaml'), 'server: http://h:1\n');
    assert.equal(loadConfigFile(join(dir, 'c.yaml'), true).server, 'http://h:1');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
