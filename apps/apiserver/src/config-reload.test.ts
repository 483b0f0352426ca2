/**
 * The apiserver's files reloaded while it runs, with real processes (etcd, one apiserver):
 * --token-auth-file (a token added is accepted and one removed refused, with no restart; a
 * broken file keeps the tokens in force) and --config (the log level: fastify's request lines
 * appear at info). Failures are counted on /metrics, per file, and said in a warn line.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startApiserver, startEtcd, waitFor, type ApiserverProcess, type EtcdMember } from '@shoal/testing';

let etcd: EtcdMember;
let apiserver: ApiserverProcess;
let dir: string;
let tokenFile: string;
let configFile: string;

/** Saves a file as an editor does: a new file renamed over the old one. */
async function save(path: string, text: string): Promise<void> {
  await writeFile(`${path}.tmp`, text);
  await rename(`${path}.tmp`, path);
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-apiserver-config-'));
  tokenFile = join(dir, 'tokens.csv');
  configFile = join(dir, 'apiserver.yaml');
  await writeFile(tokenFile, 'old-token,alice,1,system:masters\n');
  await writeFile(configFile, 'log-level: warn\n');
  etcd = await startEtcd();
  apiserver = await startApiserver({ etcd: etcd.endpoint, port: await freePort(), args: ['--config', configFile, '--token-auth-file', tokenFile] });
});
after(async () => {
  await apiserver?.stop();
  await etcd?.stop();
  await rm(dir, { recursive: true, force: true });
});

const status = async (token: string, path = '/apis/shoal.dev/v1alpha1/namespaces/default/virtualmachines') =>
  (await fetch(`${apiserver.url}${path}`, { headers: { authorization: `Bearer ${token}` } })).status;

async function metric(token: string, series: string): Promise<number | undefined> {
  const res = await fetch(`${apiserver.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200);
  const line = (await res.text()).split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

const warnLines = () =>
  apiserver
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: number; msg: string; err?: string; source?: string })
    .filter((l) => l.level === 40 && /the config in force stays as it was/.test(l.msg));

test('a token added to the file is accepted and one removed refused, without a restart', async () => {
  assert.equal(await status('old-token'), 200);
  assert.equal(await status('new-token'), 401);
  await save(tokenFile, '# rotated\nnew-token,alice,1,system:masters\n');
  await waitFor(async () => (await status('new-token')) === 200, { message: 'the new token accepted' });
  assert.equal(await status('old-token'), 401, 'the removed token is refused');
  assert.equal(await metric('new-token', 'shoal_config_reload_total{source="token-auth-file",result="success"}'), 1);
  assert.equal(await metric('new-token', 'shoal_config_last_reload_successful{source="token-auth-file"}'), 1);
});

test('a broken token file keeps the tokens in force: counted on /metrics and said in a warn line', async () => {
  await save(tokenFile, 'new-token,alice,1,system:masters\nother-token,"bob\n');
  await waitFor(async () => (await metric('new-token', 'shoal_config_reload_total{source="token-auth-file",result="failure"}')) === 1, {
    message: 'the failure counted',
  });
  assert.equal(await metric('new-token', 'shoal_config_last_reload_successful{source="token-auth-file"}'), 0);
  const warn = warnLines().find((l) => l.source === 'token-auth-file');
  assert.match(warn?.err ?? '', /tokens\.csv:2: unterminated quote/);
  assert.equal(await status('new-token'), 200, 'the tokens in force still work');
  assert.equal(await status('other-token'), 401, 'nothing of the broken file was taken');
  assert.equal(await status('old-token'), 401);
});

test('log-level in the config file: request lines appear at info; an invalid file keeps the level in force', async () => {
  assert.doesNotMatch(apiserver.output(), /"msg":"incoming request"/, 'no request lines at warn');
  const successes = async () => (await metric('new-token', 'shoal_config_reload_total{source="config",result="success"}')) ?? 0;
  await save(configFile, 'log-level: info\n');
  await waitFor(async () => (await successes()) === 1, { message: 'the config reload counted' });
  await status('new-token');
  await waitFor(() => /"msg":"incoming request"/.test(apiserver.output()), { message: 'a request line in the output' });

  await save(configFile, 'log-level: loud\n');
  await waitFor(async () => (await metric('new-token', 'shoal_config_reload_total{source="config",result="failure"}')) === 1, {
    message: 'the failure counted',
  });
  const warn = warnLines().find((l) => l.source === 'config');
  assert.match(warn?.err ?? '', /Invalid values:[\s\S]*log-level/);
  const lines = () => apiserver.output().split('"msg":"incoming request"').length;
  const seen = lines();
  await status('new-token');
  await waitFor(() => lines() > seen, { message: 'request lines still logged: info stayed in force' });
});
