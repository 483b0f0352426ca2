import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { GENERATED_MODEL, generateModel } from './generate-model.js';

test('model/generated.ts is what schemas/ generate now (run `npm run generate` after changing a schema)', async () => {
  const expected = await generateModel();
  const actual = readFileSync(GENERATED_MODEL, 'utf8');
  if (actual === expected) return;
  const a = actual.split('\n');
  const e = expected.split('\n');
  const line = a.findIndex((l, i) => l !== e[i]);
  assert.fail(
    `packages/api/src/model/generated.ts differs from what schemas/ generate, first at line ${line + 1}:\n  file:   ${a[line]}\n  schema: ${e[line]}\nRun \`npm run generate\`.`,
  );
});

test('a defaulted field is required in the generated type; one without a default stays optional', async () => {
  const model = await generateModel();
  const spec = model.slice(model.indexOf('export interface VirtualMachineSpec'));
  const body = spec.slice(0, spec.indexOf('\n}'));
  assert.match(body, /\n  runStrategy: RunStrategy;/, 'runStrategy has a default (Always)');
  assert.match(body, /\n  resources: VmResources;/);
  assert.match(body, /\n  kernel\?: string;/, 'kernel has none');
  assert.match(body, /\n  nodeName\?: string;/);
});
