/**
 * A list that draws only the rows in view and a few around them (window-range.ts), placed in a
 * spacer as tall as every row together, so the scroll bar spans the whole list while the page
 * holds a few dozen rows whether there are ten or ten thousand.
 */
import type { ComponentChildren } from 'preact';
import { useLayoutEffect, useRef, useState } from 'preact/hooks';
import { windowRange } from './window-range.js';

export interface VirtualListProps {
  count: number;
  rowHeight: number;
  /** Identity of the row at this index, so a row keeps its element while others come and go. */
  rowKey: (index: number) => string;
  row: (index: number) => ComponentChildren;
  label: string;
  class?: string;
}

export function VirtualList({ count, rowHeight, rowKey, row, label, class: className }: VirtualListProps) {
  const ref = useRef<HTMLDivElement>(null);
  const [viewport, setViewport] = useState({ scrollTop: 0, height: 0 });
  useLayoutEffect(() => {
    const el = ref.current!;
    const measure = () => setViewport({ scrollTop: el.scrollTop, height: el.clientHeight });
    measure();
    const resized = new ResizeObserver(measure);
    resized.observe(el);
    el.addEventListener('scroll', measure, { passive: true });
    return () => {
      resized.disconnect();
      el.removeEventListener('scroll', measure);
    };
  }, []);
  const { start, end } = windowRange({ scrollTop: viewport.scrollTop, viewportHeight: viewport.height || 800, rowHeight, rowCount: count });
  const rows = [];
  for (let i = start; i < end; i++) {
    rows.push(
      <div class="vlist-row" role="row" aria-rowindex={i + 1} key={rowKey(i)} style={{ top: `${i * rowHeight}px`, height: `${rowHeight}px` }}>
        {row(i)}
      </div>,
    );
  }
  return (
    <div ref={ref} class={`vlist ${className ?? ''}`} role="grid" aria-label={label} aria-rowcount={count}>
      <div class="vlist-spacer" style={{ height: `${count * rowHeight}px` }}>
        {rows}
      </div>
    </div>
  );
}
