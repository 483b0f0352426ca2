/** What the console panel shows of a guest's terminal output. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { consoleText } from './console-text.js';

test('terminal escapes and carriage returns are dropped, the text kept', () => {
  assert.equal(consoleText('\x1b[0;32mOK\x1b[0m booted\r\n\x1b[2J\x1bcprompt$ \r'), 'OK booted\nprompt$ ');
});

test('a long log keeps its end, from a line start', () => {
  const text = consoleText(Array.from({ length: 100 }, (_, i) => `line ${i}`).join('\n'), 50);
  assert.ok(text.length <= 50);
  assert.match(text, /^line \d+\n/);
  assert.match(text, /line 99$/);
});
