import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readRepositoryManifests } from './repository-manifests.js';

const roots: string[] = [];
after(() => Promise.all(roots.map((r) => rm(r, { recursive: true, force: true }))));

async function repo(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'shoal-manifests-'));
  roots.push(root);
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), text);
  }
  return root;
}

const vm = (name: string) => `apiVersion: shoal.dev/v1alpha1\nkind: VirtualMachine\nmetadata:\n  name: ${name}\n`;

test('reads every manifest under the path in name order, several documents per file and Lists flattened; skips dot-directories and other files', async () => {
  const root = await repo({
    'apps/b.yaml': `${vm('b1')}---\n${vm('b2')}`,
    'apps/a/x.yml': vm('a1'),
    'apps/list.json': JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [{ apiVersion: 'shoal.dev/v1alpha1', kind: 'Volume', metadata: { name: 'v' } }],
    }),
    'apps/.hidden/h.yaml': vm('hidden'),
    'apps/README.md': '# not a manifest',
    'other/o.yaml': vm('other'),
  });
  const { manifests, problems } = await readRepositoryManifests(root, './apps');
  assert.deepEqual(problems, []);
  assert.deepEqual(
    manifests.map((m) => [m.file, m.object.metadata.name]),
    [
      ['apps/a/x.yml', 'a1'],
      ['apps/b.yaml', 'b1'],
      ['apps/b.yaml', 'b2'],
      ['apps/list.json', 'v'],
    ],
  );
});

test('every unreadable document is reported with its file, and the others are still read', async () => {
  const root = await repo({ 'a.yaml': 'kind: [unclosed', 'b.yaml': `${vm('ok')}---\n- just\n- a list\n`, 'c.yaml': 'kind: VirtualMachine\n' });
  const { manifests, problems } = await readRepositoryManifests(root, '.');
  assert.deepEqual(
    manifests.map((m) => m.object.metadata.name),
    ['ok'],
  );
  assert.deepEqual(
    problems.map((p) => p.file),
    ['a.yaml', 'b.yaml', 'c.yaml'],
  );
  assert.match(problems[1]!.message, /document 2: a manifest must be a mapping/);
  assert.match(problems[2]!.message, /VirtualMachine has no metadata/);
});

test('a path that is missing or leads outside the repository is a problem of spec.path', async () => {
  const root = await repo({ 'a.yaml': vm('a') });
  const outside = await repo({ 'secret.yaml': vm('theirs') });
  await symlink(outside, join(root, 'escape'));
  for (const path of ['./nope', '../', 'escape']) {
    const { manifests, problems } = await readRepositoryManifests(root, path);
    assert.equal(manifests.length, 0, path);
    assert.equal(problems[0]?.field, 'spec.path', path);
  }
});
