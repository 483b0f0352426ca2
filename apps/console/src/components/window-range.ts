/**
 * Which rows of a long list to draw: the ones in view and a few either side, so that scrolling
 * shows drawn rows while the next frame catches up. Every row has the same height, so this is
 * arithmetic on the scroll position, whatever the number of rows.
 */
export interface WindowRange {
  /** First row drawn. */
  start: number;
  /** One past the last row drawn. */
  end: number;
}

export function windowRange(opts: { scrollTop: number; viewportHeight: number; rowHeight: number; rowCount: number; overscan?: number }): WindowRange {
  const { rowHeight, rowCount } = opts;
  const overscan = opts.overscan ?? 8;
  if (rowCount === 0 || rowHeight <= 0) return { start: 0, end: 0 };
  const first = Math.floor(Math.max(0, opts.scrollTop) / rowHeight);
  const visible = Math.ceil(Math.max(0, opts.viewportHeight) / rowHeight) + 1;
  const start = Math.max(0, Math.min(first, rowCount - 1) - overscan);
  const end = Math.min(rowCount, first + visible + overscan);
  return { start, end: Math.max(start, end) };
}
