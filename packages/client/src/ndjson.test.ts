import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lines } from './ndjson.js';

async function* chunks(...parts: Buffer[]) {
  yield* parts;
}

test('lines are reassembled across chunks, including split UTF-8 characters', async () => {
  const text = Buffer.from('{"a":"é"}\n\n{"b":2}\n{"partial"');
  const cut = text.indexOf(Buffer.from('é')) + 1; // inside the two-byte é
  const out: string[] = [];
  for await (const l of lines(chunks(text.subarray(0, cut), text.subarray(cut, cut + 5), text.subarray(cut + 5)))) out.push(l);
  assert.deepEqual(out, ['{"a":"é"}', '{"b":2}']);
});
