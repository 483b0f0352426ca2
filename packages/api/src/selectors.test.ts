/** Selector parsing: malformed or hostile selectors are refused with the parameter named, never read as "match all". */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from './status.js';
import { matchesSelector, parseFieldSelector, parseLabelSelector } from './selectors.js';

const refusedField = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ApiError && err.code === 400);
    return err.details?.causes?.[0]?.field;
  }
  assert.fail('accepted');
};

test('an empty value set is refused (it used to match every object, and deletecollection deleted them all)', () => {
  for (const s of ['a in ()', 'a notin ()', 'a notin ( )'])
    assert.equal(
      refusedField(() => parseLabelSelector(s)),
      'labelSelector',
      s,
    );
  assert.equal(matchesSelector(parseLabelSelector('a notin (x)'), { app: 'web' }), true);
});

test('field selector values: unescaped = and ! are refused, escapes are read', () => {
  for (const s of ['metadata.name==x=y', 'metadata.name=x!y', "metadata.name=vm' OR '1'='1", 'metadata.name=a\\b'])
    assert.equal(
      refusedField(() => parseFieldSelector(s)),
      'fieldSelector',
      s,
    );
  assert.deepEqual(parseFieldSelector('metadata.name=a\\=b'), [{ field: 'metadata.name', op: '=', value: 'a=b' }]);
  assert.deepEqual(parseFieldSelector('metadata.name=x||1'), [{ field: 'metadata.name', op: '=', value: 'x||1' }], 'a literal value, matched as is');
});

test('too long selectors name the parameter', () => {
  assert.equal(
    refusedField(() => parseLabelSelector(`a=${'x'.repeat(5000)}`)),
    'labelSelector',
  );
  assert.equal(
    refusedField(() => parseFieldSelector(`metadata.name=${'x'.repeat(5000)}`)),
    'fieldSelector',
  );
});
