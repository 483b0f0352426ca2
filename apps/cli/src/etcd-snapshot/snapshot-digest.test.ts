import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { SnapshotDigest } from './snapshot-digest.js';

/** What etcd sends: the database, then its sha256. */
function snapshot(db: Buffer): Buffer {
  return Buffer.concat([db, createHash('sha256').update(db).digest()]);
}

function digestOf(bytes: Buffer, chunkSizes: number[]): SnapshotDigest {
  const d = new SnapshotDigest();
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const size = chunkSizes[i % chunkSizes.length]!;
    d.update(bytes.subarray(at, at + size));
    at += size;
  }
  return d;
}

test('the digest at the end matches however the stream is cut into chunks, the 32 bytes straddling them included', () => {
  const whole = snapshot(randomBytes(5000));
  for (const sizes of [[whole.length], [1], [7, 31], [32], [33, 4096], [4990, 5, 20, 100]]) {
    const d = digestOf(whole, sizes);
    assert.equal(d.matches(), true, `chunks of ${sizes.join(',')}`);
    assert.equal(d.bytes, whole.length);
  }
});

test('a torn, corrupted or too short stream does not match', () => {
  const whole = snapshot(randomBytes(5000));
  assert.equal(digestOf(whole.subarray(0, whole.length - 1), [100]).matches(), false, 'torn');
  const flipped = Buffer.from(whole);
  flipped[1234]! ^= 1;
  assert.equal(digestOf(flipped, [100]).matches(), false, 'one bit changed');
  assert.equal(digestOf(createHash('sha256').update('').digest(), [32]).matches(), false, 'a digest of nothing is no snapshot');
  assert.equal(digestOf(Buffer.alloc(0), [1]).matches(), false, 'empty');
});
