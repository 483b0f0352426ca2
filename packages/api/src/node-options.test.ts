/** A bin run directly starts node with the same flags as `shoal up` and the tests give it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { NODE_OPTIONS, nodeOptionsOf } from './node-options.js';

const BIN = new URL('../../../bin/', import.meta.url);

test("every command's #! line gives node the flags nodeOptionsOf names, and only a command's own", async () => {
  const commands = (await readdir(BIN)).filter((f) => f.startsWith('shoal') && f.endsWith('.js')).map((f) => f.slice(0, -'.js'.length));
  assert.ok(commands.includes('shoal-controller-manager'), `bin/ has ${commands.join(', ')}`);
  for (const command of commands) {
    const firstLine = (await readFile(new URL(`${command}.js`, BIN), 'utf8')).split('\n')[0];
    const options = nodeOptionsOf(command);
    // env -S splits the rest of the line into words: without it "node --flag" is one program name.
    const expected = options.length ? `#!/usr/bin/env -S node ${options.join(' ')}` : '#!/usr/bin/env node';
    assert.equal(firstLine, expected, `bin/${command}.js`);
  }
  for (const command of Object.keys(NODE_OPTIONS)) assert.ok(commands.includes(command), `NODE_OPTIONS names ${command}, which bin/ lacks`);
});
