/** Small pieces every page uses: a phase, a condition's status, an error from the server, a bar of used room. */
import type { ComponentChildren } from 'preact';

/** A phase as a coloured label; the colour says how it is going (phase-* in styles.css). */
export function Phase({ phase }: { phase: string | undefined }) {
  const p = phase ?? 'Unknown';
  return (
    <span class={`phase phase-${p.toLowerCase()}`} data-phase={p}>
      {p}
    </span>
  );
}

export function ConditionStatus({ status }: { status: string | undefined }) {
  const s = status ?? 'Unknown';
  return <span class={`cond cond-${s.toLowerCase()}`}>{s}</span>;
}

/** The server's message, as the server put it: a 403 says who may not do what. */
export function ErrorNote({ error, children }: { error: Error | undefined; children?: ComponentChildren }) {
  if (!error) return null;
  return (
    <div class="error-note" role="alert">
      {children}
      {children ? ': ' : ''}
      {error.message}
    </div>
  );
}

export function Bar({ used, total, label }: { used: number; total: number; label: string }) {
  const ratio = total > 0 ? used / total : 0;
  const level = ratio > 1 ? 'over' : ratio > 0.85 ? 'high' : 'ok';
  return (
    <div class="bar" title={label} aria-label={label} role="meter" aria-valuemin={0} aria-valuemax={total} aria-valuenow={used}>
      <div class={`bar-fill bar-${level}`} style={{ width: `${Math.min(100, ratio * 100).toFixed(1)}%` }} />
      <span class="bar-text">{label}</span>
    </div>
  );
}

/** A connection that is not live, said plainly: what is shown may be stale. */
export function LiveState({ live, error, final, synced }: { live: boolean; error?: Error; final?: boolean; synced: boolean }) {
  if (final) return <ErrorNote error={error} />;
  if (live)
    return (
      <span class="live" data-live="true">
        live
      </span>
    );
  return (
    <span class="live live-off" data-live="false" title={error?.message}>
      {synced ? 'reconnecting…' : 'loading…'}
      {error ? ` (${error.message})` : ''}
    </span>
  );
}
