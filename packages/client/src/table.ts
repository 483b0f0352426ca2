/** The meta.k8s.io/v1 Table a server renders for `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`. */
import type { ListMeta, ObjectMeta } from '@shoal/api';

export const TABLE_ACCEPT = 'application/json;as=Table;v=v1;g=meta.k8s.io';

export interface TableColumnDefinition {
  name: string;
  type: string;
  format?: string;
  description?: string;
  /** 0 for columns shown by default; more for `-o wide` only. */
  priority?: number;
}

export interface TableRow {
  cells: unknown[];
  /** PartialObjectMetadata of the row's object. */
  object?: { apiVersion?: string; kind?: string; metadata: ObjectMeta };
}

export interface Table {
  apiVersion: 'meta.k8s.io/v1';
  kind: 'Table';
  metadata: ListMeta;
  columnDefinitions: TableColumnDefinition[];
  rows: TableRow[];
}

export function isTable(body: unknown): body is Table {
  return typeof body === 'object' && body !== null && (body as { kind?: unknown }).kind === 'Table' && Array.isArray((body as Table).rows);
}
