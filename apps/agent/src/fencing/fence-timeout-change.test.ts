/**
 * The order of a fence timeout change (pure, on plain functions that record what they were
 * asked), and the fence file on a real temporary directory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { changeFenceTimeout, readFenceTimeoutFile, writeFenceTimeoutFile } from './fence-timeout-change.js';

function sides(failPublish = false) {
  const steps: string[] = [];
  return {
    steps,
    enforce: async (s: number) => void steps.push(`enforce ${s}`),
    publish: async (s: number) => {
      steps.push(`publish ${s}`);
      if (failPublish) throw new Error('apiserver unreachable');
    },
  };
}

test('a longer timeout is published before the node keeps its VMs longer; a shorter one enforced before it is published', async () => {
  const up = sides();
  await changeFenceTimeout(6, 20, up);
  assert.deepEqual(up.steps, ['publish 20', 'enforce 20']);
  const down = sides();
  await changeFenceTimeout(20, 6, down);
  assert.deepEqual(down.steps, ['enforce 6', 'publish 6']);
  const same = sides();
  await changeFenceTimeout(6, 6, same);
  assert.deepEqual(same.steps, []);
});

test('a failed publication: a longer timeout is never enforced; a shorter one is taken back to the published one', async () => {
  const up = sides(true);
  await assert.rejects(changeFenceTimeout(6, 20, up), /apiserver unreachable/);
  assert.deepEqual(up.steps, ['publish 20']);
  const down = sides(true);
  await assert.rejects(changeFenceTimeout(20, 6, down), /apiserver unreachable/);
  assert.deepEqual(down.steps, ['enforce 6', 'publish 6', 'enforce 20']);
});

test('the fence file: written whole, read back; missing or not a whole number of seconds reads as none', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-fence-file-'));
  try {
    const file = join(dir, 'fence-timeout');
    assert.equal(await readFenceTimeoutFile(file), undefined);
    await writeFenceTimeoutFile(file, 9);
    assert.equal(await readFile(file, 'utf8'), '9\n');
    assert.equal(await readFenceTimeoutFile(file), 9);
    for (const bad of ['', 'nine', '0', '08', '1.5', '-3']) {
      await writeFile(file, bad);
      assert.equal(await readFenceTimeoutFile(file), undefined, JSON.stringify(bad));
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
