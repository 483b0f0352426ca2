import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseManifests, readManifests } from './read-manifests.js';

const vm = (name: string) => `apiVersion: shoal.dev/v1alpha1\nkind: VirtualMachine\nmetadata:\n  name: ${name}\n`;

test('multi-document YAML, empty documents skipped, Lists flattened', () => {
  const text = `${vm('a')}---\n---\n# only a comment\n---\n${vm('b')}---\napiVersion: v1\nkind: List\nitems:\n- ${JSON.stringify({ kind: 'VirtualMachine', metadata: { name: 'c' } })}\n`;
  assert.deepEqual(
    parseManifests(text, 'x.yaml').map((m) => m.object.metadata.name),
    ['a', 'b', 'c'],
  );
});

test('JSON parses as the YAML subset it is', () => {
  assert.equal(parseManifests(JSON.stringify({ kind: 'VirtualMachine', metadata: { name: 'j' } }), 'x.json')[0]!.object.metadata.name, 'j');
});

test('bad input names its source', () => {
  assert.throws(() => parseManifests('a: [1,\n', 'broken.yaml'), /broken\.yaml/);
  assert.throws(() => parseManifests('- 1\n- 2\n', 'list.yaml'), /list\.yaml.*mapping/);
  assert.throws(() => parseManifests('kind: VirtualMachine\n', 'nometa.yaml'), /nometa\.yaml.*metadata/);
});

test('directories are recursed in name order for .yaml, .yml and .json; stdin is read once', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-manifests-'));
  try {
    await mkdir(join(dir, 'sub'));
    await writeFile(join(dir, 'b.yaml'), vm('b'));
    await writeFile(join(dir, 'a.yml'), vm('a'));
    await writeFile(join(dir, 'sub', 'c.json'), JSON.stringify({ kind: 'VirtualMachine', metadata: { name: 'c' } }));
    await writeFile(join(dir, 'README.md'), '# not a manifest');
    const found = await readManifests([dir, '-', '-'], async () => vm('s'));
    assert.deepEqual(
      found.map((m) => m.object.metadata.name),
      ['a', 'b', 'c', 's'],
    );
    assert.equal(found[3]!.source, 'STDIN');
    await assert.rejects(readManifests([join(dir, 'nope.yaml')]), /does not exist/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
