/**
 * The JSONPath engine on plain data, for what the kubectl comparison (apps/cli get/jsonpath.test.ts)
 * cannot reach through objects a server holds: literals, Go's number and comparison rules, the
 * quirks kubectl has, and every error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evalJsonPath } from '../json-path.js';
import { JsonPathEvaluationError } from './evaluate.js';
import { JsonPathSyntaxError } from './parse.js';
import { goFloat } from './print.js';
import { JsonPathTemplate } from './template.js';

const data = {
  kind: 'List',
  items: [
    { name: 'a', n: 1, ratio: 0.5, ok: true, tags: ['x', 'y'], nested: { deep: { name: 'inner' } } },
    { name: 'b', n: 3, ratio: 2.5, ok: false, tags: [], nothing: null },
    { name: 'c', n: 2, tags: ['z'] },
  ],
};

const run = (template: string, opts = { allowMissingKeys: true }) => new JsonPathTemplate(template).execute(data, opts);

test('text outside braces, literals and quoted escapes inside them', () => {
  assert.equal(run('names: {.items[*].name}!'), 'names: a b c!');
  assert.equal(run('{"a\\tb\\n"}{\'it\\\'s\'}{"\\u00e9\\x41\\101"}'), "a\tb\nit's\u00e9AA");
  assert.equal(run('{5} {-2} {1.50} {true}'), '5 -2 1.5 true');
});

test('numbers as Go prints them: whole ones as integers, others in the shortest form, exponents from 1e6 and below 1e-4', () => {
  assert.equal(run('{.items[*].ratio}'), '0.5 2.5');
  assert.deepEqual([0.25, 123456.5, 1234567.5, 0.0001, 0.00001, -2.5e-7].map(goFloat), ['0.25', '123456.5', '1.2345675e+06', '0.0001', '1e-05', '-2.5e-07']);
  assert.equal(run('{.items[1].nothing}'), 'null');
});

test('filters compare values of one kind only, as Go templates do', () => {
  assert.equal(run('{.items[?(@.n>=2)].name}'), 'b c');
  assert.equal(run('{.items[?(@.n==3)].name}'), 'b');
  assert.equal(run('{.items[?(@.ok==true)].name}'), 'a');
  assert.equal(run('{.items[?(@.ratio)].name}'), 'a b', 'existence');
  assert.throws(() => run('{.items[?(@.n==3.0)].name}'), { message: 'incompatible types for comparison' });
  assert.throws(() => run('{.items[?(@.n=="3")].name}'), { message: 'incompatible types for comparison' });
  assert.throws(() => run('{.items[?(@.ok<true)].name}'), { message: 'invalid type for comparison' });
  assert.throws(() => run('{.items[?(@.tags=="x")].name}'), { message: 'invalid type for comparison' });
  assert.throws(() => run('{.items[?(@.tags[*]=="x")].name}'), { message: 'can only compare one element at a time' });
  assert.throws(() => run('{.items[?(@.n=2)].name}'), { message: 'unrecognized filter operator =' });
});

test('recursive descent, wildcards and ranges', () => {
  assert.equal(run('{..name}'), 'a inner b c');
  assert.equal(run('{.items[0].nested.*}'), '{"name":"inner"}');
  assert.equal(run('{range .items[*]}{.name}:{range .tags[*]}{@}{end};{end}'), 'a:xy;b:;c:z;');
  // Without an {end}, kubectl runs the body to the end of the template, then once more on the data outside.
  assert.equal(run('{range .items[*]}{.name}-'), 'a-b-c--');
});

test('slices: negative indexes, steps, and the errors kubectl gives', () => {
  assert.equal(run('{.items[-1].name} {.items[:-1].name} {.items[0:3:2].name} {.items[2:2].name}'), 'c a b a c ');
  assert.throws(() => run('{.items[3]}'), { message: 'array index out of bounds: index 3, length 3' });
  assert.throws(() => run('{.items[2:1]}'), { message: 'starting index 2 is greater than ending index 1' });
  assert.throws(() => run('{.items[::0]}'), { message: 'step must be > 0' });
  assert.throws(() => run('{.kind[0]}'), { message: 'string is not array or slice' });
});

test('a missing field is nothing with allowMissingKeys, an error without', () => {
  assert.equal(run('{.items[*].ratio}'), '0.5 2.5');
  assert.throws(
    () => run('{.nope}', { allowMissingKeys: false }),
    (err) => err instanceof JsonPathEvaluationError && err.message === 'nope is not found',
  );
  assert.throws(() => run('{end}'), { message: 'not in range, nothing to end' });
  assert.throws(() => run('{.items[*].name frob}'), { message: 'unrecognized identifier frob' });
});

test('syntax errors are caught before any data is read', () => {
  for (const [template, message] of [
    ['{.items[0}', 'unterminated array'],
    ['{.items', 'unclosed action'],
    ['{.a[?(@.x=="y"}', 'unterminated filter'],
    ['{.a[?(@.x=="y")}', 'unclosed array expect ]'],
    ['{"abc}', 'unterminated quoted string'],
    ['{.a[x]}', 'invalid array index x'],
    ['{....a}', 'invalid multiple recursive descent'],
    ['{1.2.3}', 'cannot parse number 1.2.3'],
    ['{#}', "unrecognized character in action: U+0023 '#'"],
  ])
    assert.throws(
      () => new JsonPathTemplate(template!),
      (err) => err instanceof JsonPathSyntaxError && err.message === message,
      template,
    );
});

test('-o jsonpath-as-json: each expression as an indented JSON array', () => {
  assert.equal(new JsonPathTemplate('{.items[*].name}').execute(data, { asJson: true }), '[\n    "a",\n    "b",\n    "c"\n]\n');
});

test('printer columns take the first result, and an error is an empty cell', () => {
  assert.equal(evalJsonPath(data, '.items[?(@.n>1)].name'), 'b');
  assert.equal(evalJsonPath(data, '.items[7].name'), undefined);
  assert.equal(evalJsonPath(data, '.items[0].missing'), undefined);
  assert.deepEqual(evalJsonPath(data, '.items[0].tags'), ['x', 'y']);
});
