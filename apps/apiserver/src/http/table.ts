/**
 * meta.k8s.io/v1 Table responses, so `kubectl get` and `shoalctl get` print useful columns.
 * Cells are printed verbatim by clients, hence ages and suffixes are formatted here.
 */
import { evalJsonPath, type KindInfo, type KubeObject, type ListMeta, type PrinterColumn } from '@shoal/api';
import { age } from '@shoal/api';

export type IncludeObject = 'None' | 'Metadata' | 'Object';

interface ColumnDefinition {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

export interface Table {
  kind: 'Table';
  apiVersion: 'meta.k8s.io/v1';
  metadata: ListMeta;
  columnDefinitions: ColumnDefinition[];
  rows: { cells: unknown[]; object?: unknown }[];
}

/** True when the Accept header asks for a Table before plain JSON. */
export function wantsTable(accept: string | undefined): boolean {
  if (!accept) return false;
  const first = accept.split(',')[0]!;
  return /(^|;)\s*as=Table/.test(first);
}

function columnDefinitions(kind: KindInfo): ColumnDefinition[] {
  return [
    { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace.', priority: 0 },
    ...kind.columns.map((c) => ({ name: c.name, type: c.type === 'date' ? 'string' : c.type, format: '', description: c.jsonPath, priority: c.priority ?? 0 })),
    { name: 'Age', type: 'string', format: '', description: 'Time since the object was created.', priority: 0 },
  ];
}

function cell(c: PrinterColumn, obj: KubeObject, now: number): unknown {
  let v = evalJsonPath(obj, c.jsonPath);
  if (c.count) return v && typeof v === 'object' ? Object.keys(v).length : 0;
  if (c.map) v = c.map[v === undefined || v === null ? '' : String(v)] ?? v;
  if (v === undefined || v === null) return c.map?.[''] ?? null;
  if (c.type === 'date') return age(String(v), now);
  if (c.suffix) return `${String(v)}${c.suffix}`;
  if (typeof v === 'object') return JSON.stringify(v);
  return v;
}

function rowObject(obj: KubeObject, include: IncludeObject): unknown {
  if (include === 'None') return undefined;
  if (include === 'Object') return obj;
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata };
}

export function toTable(kind: KindInfo, objects: KubeObject[], listMeta: ListMeta, include: IncludeObject, now = Date.now()): Table {
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: listMeta,
    columnDefinitions: columnDefinitions(kind),
    rows: objects.map((o) => ({
      cells: [o.metadata.name, ...kind.columns.map((c) => cell(c, o, now)), age(o.metadata.creationTimestamp, now)],
      object: rowObject(o, include),
    })),
  };
}
