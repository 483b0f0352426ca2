import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kinds } from '@shoal/api';
import type { Table } from '@shoal/client';
import { objectTable } from './object-table.js';
import { tableView } from './table-view.js';

const table: Table = {
  apiVersion: 'meta.k8s.io/v1',
  kind: 'Table',
  metadata: {},
  columnDefinitions: [
    { name: 'Name', type: 'string', priority: 0 },
    { name: 'Phase', type: 'string', priority: 0 },
    { name: 'IP', type: 'string', priority: 1 },
    { name: 'Age', type: 'string', priority: 0 },
  ],
  rows: [{ cells: ['web', 'Running', null, '5s'], object: { metadata: { name: 'web', namespace: 'prod', labels: { app: 'web', tier: 'front' } } } }],
};

test('priority columns only in wide; headers upper-cased; nulls as <none>', () => {
  assert.deepEqual(tableView(table), { header: ['NAME', 'PHASE', 'AGE'], rows: [['web', 'Running', '5s']] });
  assert.deepEqual(tableView(table, { wide: true }).rows, [['web', 'Running', '<none>', '5s']]);
});

test('-A adds NAMESPACE first, --show-labels adds LABELS last', () => {
  const v = tableView(table, { withNamespace: true, showLabels: true });
  assert.deepEqual(v.header, ['NAMESPACE', 'NAME', 'PHASE', 'AGE', 'LABELS']);
  assert.deepEqual(v.rows[0], ['prod', 'web', 'Running', '5s', 'app=web,tier=front']);
});

test('rows rendered from objects follow the kind printer columns', () => {
  const vm = kinds().find('vm')!;
  const now = Date.parse('2024-01-01T00:10:00Z');
  const t = objectTable(
    vm,
    [{ metadata: { name: 'a', creationTimestamp: '2024-01-01T00:00:00Z' }, spec: { resources: { vcpus: 2, memoryMiB: 512 } }, status: { phase: 'Running' } }],
    now,
  );
  const v = tableView(t);
  assert.deepEqual(v.header, ['NAME', 'PHASE', 'NODE', 'VCPUS', 'MEMORY', 'AGE']);
  assert.deepEqual(v.rows[0], ['a', 'Running', '<none>', '2', '512Mi', '10m']);
});
