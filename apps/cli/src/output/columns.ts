/**
 * Aligned text columns as kubectl prints them (a tabwriter with 3 spaces of padding): each
 * column as wide as its widest cell, the last one not padded, no trailing spaces.
 */
export const COLUMN_GAP = 3;

export function columnWidths(rows: string[][]): number[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return widths;
}

export function formatRow(cells: string[], widths: number[]): string {
  return cells
    .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd((widths[i] ?? cell.length) + COLUMN_GAP)))
    .join('')
    .trimEnd();
}

export function formatColumns(rows: string[][]): string {
  const widths = columnWidths(rows);
  return rows.map((r) => `${formatRow(r, widths)}\n`).join('');
}
