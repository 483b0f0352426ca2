/**
 * What `get` prints from a meta.k8s.io Table: the columns for this output mode, upper-cased
 * headers, a NAMESPACE column for -A (the server's Table has none; kubectl adds it too), and
 * LABELS for --show-labels.
 */
import type { Table } from '@shoal/client';

export interface ViewOptions {
  /** -o wide: columns with priority > 0 too. */
  wide?: boolean;
  /** -A: prefix each row with its namespace. */
  withNamespace?: boolean;
  showLabels?: boolean;
}

export interface TableView {
  header: string[];
  rows: string[][];
}

export function tableView(table: Table, opts: ViewOptions = {}): TableView {
  const shown = table.columnDefinitions.map((c, i) => ({ c, i })).filter(({ c }) => opts.wide || !c.priority);
  const header = shown.map(({ c }) => c.name.toUpperCase());
  if (opts.withNamespace) header.unshift('NAMESPACE');
  if (opts.showLabels) header.push('LABELS');
  const rows = table.rows.map((row) => {
    const cells = shown.map(({ i }) => cellText(row.cells[i]));
    if (opts.withNamespace) cells.unshift(row.object?.metadata?.namespace ?? '');
    if (opts.showLabels) cells.push(labelsText(row.object?.metadata?.labels));
    return cells;
  });
  return { header, rows };
}

export function cellText(cell: unknown): string {
  if (cell === null || cell === undefined) return '<none>';
  if (typeof cell === 'object') return JSON.stringify(cell);
  return String(cell);
}

function labelsText(labels: Record<string, string> | undefined): string {
  const pairs = Object.entries(labels ?? {}).map(([k, v]) => `${k}=${v}`);
  return pairs.length ? pairs.join(',') : '<none>';
}
