/**
 * Shell completion as a bash user gets it: the script `shoalctl completion bash` prints is
 * sourced into a real bash, whose completion function is called with the words of a line; the
 * shoalctl it asks is the real binary (on PATH), talking to a real etcd and apiserver.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { REPO_ROOT, startCluster, type TestCluster } from '@shoal/testing';
import { createNamespace, removeTestHome, shoalctl } from '../test-support/shoalctl.js';

let cluster: TestCluster;
let dir: string;

before(async () => {
  [cluster, dir] = await Promise.all([startCluster(), mkdtemp(join(tmpdir(), 'shoalctl-completion-'))]);
  // `shoalctl` on PATH, as an installed one would be: the script calls it by name.
  await writeFile(join(dir, 'shoalctl'), `#!/bin/sh\nexec node ${REPO_ROOT}bin/shoalctl.js "$@"\n`);
  await chmod(join(dir, 'shoalctl'), 0o755);
  await createNamespace(cluster.client, 'comp');
  for (const name of ['alpha', 'beta'])
    await cluster.client.create('vm', { apiVersion: 'shoal.dev/v1alpha1', kind: 'VirtualMachine', metadata: { name, namespace: 'comp' } });
  await cluster.client.create('Node', { apiVersion: 'shoal.dev/v1alpha1', kind: 'Node', metadata: { name: 'host-1' } });
});
after(async () => {
  await cluster?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
  await removeTestHome();
});

/** What bash offers for the line `words` (the last one being completed), in bash's order. */
async function complete(...words: string[]): Promise<string[]> {
  const script = [
    'source <(shoalctl completion bash)',
    `COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')})`,
    `COMP_CWORD=${words.length - 1}`,
    '_shoalctl_completions',
    'printf "%s\\n" "${COMPREPLY[@]}"',
  ].join('\n');
  const r = await execa('bash', ['-c', script], {
    env: { PATH: `${dir}:${process.env.PATH}`, HOME: dir, SHOAL_SERVER: cluster.url },
    extendEnv: false,
    reject: false,
    timeout: 60_000,
  });
  assert.equal(r.exitCode, 0, String(r.stderr));
  return String(r.stdout).split('\n').filter(Boolean);
}

test('commands, flags and resource types complete offline, from the command definitions and schemas/', async () => {
  const [commands, flags, types, outputs] = await Promise.all([
    complete('shoalctl', 'de'),
    complete('shoalctl', 'get', 'vm', '--sel'),
    complete('shoalctl', 'get', 'virtualm'),
    complete('shoalctl', 'get', 'vm', '-o', 'jsonp'),
  ]);
  assert.deepEqual(commands.sort(), ['delete', 'describe']);
  assert.deepEqual(flags, ['--selector']);
  assert.deepEqual(types, ['virtualmachines']);
  assert.deepEqual(outputs.sort(), ['jsonpath-as-json=', 'jsonpath-file=', 'jsonpath=']);
});

test('names of objects complete from the cluster, in the namespace the command would use', async () => {
  const [vms, rest, described, nodes, namespaces, started] = await Promise.all([
    complete('shoalctl', '-n', 'comp', 'get', 'vm', ''),
    complete('shoalctl', '-n', 'comp', 'delete', 'virtualmachines', 'alpha', ''),
    complete('shoalctl', '-n', 'comp', 'describe', 'vm', 'b'),
    complete('shoalctl', 'drain', ''),
    complete('shoalctl', '-n', 'co'),
    complete('shoalctl', 'stop', ''),
  ]);
  assert.deepEqual(vms, ['alpha', 'beta']);
  assert.deepEqual(rest, ['beta'], 'a name already typed is not offered again');
  assert.deepEqual(described, ['beta']);
  assert.deepEqual(nodes, ['host-1']);
  assert.deepEqual(namespaces, ['comp']);
  assert.deepEqual(started, ['vm'], 'stop takes a VM');
  // Completing a command line never runs it: `delete virtualmachines alpha <TAB>` deleted nothing.
  const left = await cluster.client.list('vm', { namespace: 'comp' });
  assert.deepEqual(
    left.items.filter((v) => !v.metadata.deletionTimestamp).map((v) => v.metadata.name),
    ['alpha', 'beta'],
  );
});

test('completion prints a script per shell; another shell is a usage error', async () => {
  const [zsh, fish] = await Promise.all([shoalctl(['completion', 'zsh']), shoalctl(['completion', 'fish'])]);
  assert.equal(zsh.exitCode, 0);
  assert.match(zsh.stdout, /^#compdef shoalctl\n/);
  assert.match(zsh.stdout, /compdef _shoalctl shoalctl/);
  assert.equal(fish.exitCode, 2);
  assert.match(fish.stderr, /Invalid values:[\s\S]*Argument: shell, Given: "fish", Choices: "bash", "zsh"/);
});
