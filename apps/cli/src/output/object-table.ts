/**
 * A Table rendered on this side from objects and the kind's printer columns (the same ones
 * from schemas/ the server renders with). `get -w` needs it for rows of watch events, which
 * carry objects, and it stands in when a server answers a Table request with plain JSON.
 */
import { evalJsonPath, type KindInfo, type KubeObject, type PrinterColumn } from '@shoal/api';
import type { Table, TableRow } from '@shoal/client';
import { age } from '@shoal/api';

export function objectTable(kind: KindInfo, objects: KubeObject[], now = Date.now()): Table {
  return {
    apiVersion: 'meta.k8s.io/v1',
    kind: 'Table',
    metadata: {},
    columnDefinitions: [
      { name: 'Name', type: 'string', format: 'name', priority: 0 },
      ...kind.columns.map((c) => ({ name: c.name, type: c.type, priority: c.priority ?? 0 })),
      { name: 'Age', type: 'date', priority: 0 },
    ],
    rows: objects.map((o) => objectRow(kind, o, now)),
  };
}

function objectRow(kind: KindInfo, obj: KubeObject, now: number): TableRow {
  return {
    cells: [obj.metadata.name, ...kind.columns.map((c) => columnCell(c, obj)), age(obj.metadata.creationTimestamp, now)],
    object: { apiVersion: 'meta.k8s.io/v1', kind: 'PartialObjectMetadata', metadata: obj.metadata },
  };
}

export function columnCell(column: PrinterColumn, obj: KubeObject): unknown {
  const value = evalJsonPath(obj, column.jsonPath);
  if (value === undefined || value === null || value === '') return null;
  const shown = column.map ? (column.map[String(value)] ?? value) : value;
  return column.suffix ? `${String(shown)}${column.suffix}` : shown;
}
