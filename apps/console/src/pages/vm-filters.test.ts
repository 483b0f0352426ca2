/** The VM list's filters, from the URL to the API request. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { filtersFromQuery, vmListRequest } from './vm-filters.js';

test('no filter: every VM of every namespace', () => {
  assert.deepEqual(vmListRequest(filtersFromQuery(new URLSearchParams(''))), { path: '/apis/shoal.dev/v1alpha1/virtualmachines', selectors: {} });
});

test('namespace in the path, labels as labelSelector, node and phase as one fieldSelector', () => {
  const f = filtersFromQuery(new URLSearchParams('namespace=team-a&label=app%3Dweb%2Ctier!%3Ddb&node=node-1&phase=Running&other=x'));
  assert.deepEqual(f, { namespace: 'team-a', label: 'app=web,tier!=db', node: 'node-1', phase: 'Running' });
  assert.deepEqual(vmListRequest(f), {
    path: '/apis/shoal.dev/v1alpha1/namespaces/team-a/virtualmachines',
    selectors: { labelSelector: 'app=web,tier!=db', fieldSelector: 'spec.nodeName=node-1,status.phase=Running' },
  });
});

test('blank filters are no filters; a value with , or = is escaped, not taken for another term', () => {
  assert.deepEqual(filtersFromQuery(new URLSearchParams('namespace=%20&phase=')), {});
  assert.deepEqual(vmListRequest({ node: 'a,b=c' }).selectors, { fieldSelector: 'spec.nodeName=a\\,b\\=c' });
});
