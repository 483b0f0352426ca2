/**
 * Following one Migration until it ends: a watch by name from the version the command created
 * (so no change in between is missed), relisting if the watch falls too far behind (410), and
 * a view that shows progress on stderr — a bar redrawn in place on a terminal, a line per phase
 * change (and at most every 5 s within one) otherwise.
 */
import { ApiError, type Migration } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import { RateMeter } from '../../output/progress.js';
import { isTerminal, phaseOf } from '../../migration/migration-status.js';
import { barLine, LineThrottle, PENDING_HINT_AFTER_MS, pendingHint, plainLine } from './status-lines.js';

export type FollowEnd =
  /** It reached Succeeded, Failed or Aborted. */
  | { ended: Migration }
  /** It went away before it ended (deleted and its finalizers done). */
  | { deleted: Migration }
  /** The signal aborted first; the Migration as last seen. */
  | { stopped: Migration };

export interface ProgressView {
  /** A new version of the Migration; rate in bytes per second when measured. */
  update(m: Migration, rate: number | undefined, now: number): void;
  /** Called every second, for what changes with time alone. */
  tick(now: number): void;
  /** A line of its own, above the progress. */
  note(text: string): void;
  /** Leaves the terminal ready for what comes next. */
  end(): void;
}

export function progressView(stream: NodeJS.WriteStream): ProgressView {
  return stream.isTTY ? new BarView(stream) : new LineView(stream);
}

/** Watches `created` until it ends, is deleted, or `signal` aborts, telling `view` of each change. */
export async function followMigration(client: ShoalClient, created: Migration, view: ProgressView, signal: AbortSignal): Promise<FollowEnd> {
  const namespace = created.metadata.namespace;
  const selectors = { namespace, fieldSelector: `metadata.name=${created.metadata.name}` };
  const meter = new RateMeter();
  let current = created;
  let phaseSince = Date.now();
  let hinted = false;
  const show = (m: Migration) => {
    const now = Date.now();
    if (phaseOf(m) !== phaseOf(current)) phaseSince = now;
    current = m;
    if (m.status?.transferredBytes !== undefined) meter.add(now, m.status.transferredBytes);
    view.update(m, meter.rate(), now);
  };
  const ticker = setInterval(() => {
    const now = Date.now();
    if (!hinted && phaseOf(current) === 'Pending' && now - phaseSince >= PENDING_HINT_AFTER_MS) {
      hinted = true;
      view.note(pendingHint(current, now - phaseSince));
    }
    view.tick(now);
  }, 1000);

  try {
    show(created);
    let resourceVersion = created.metadata.resourceVersion;
    while (!isTerminal(phaseOf(current))) {
      try {
        for await (const event of client.watch<Migration>('Migration', { ...selectors, resourceVersion, allowWatchBookmarks: true }, signal)) {
          if (event.type === 'BOOKMARK') continue;
          // Another object of the same name is not the one this command created.
          if (event.object.metadata.uid !== created.metadata.uid) continue;
          if (event.type === 'DELETED') return { deleted: event.object };
          show(event.object);
          if (isTerminal(phaseOf(current))) return { ended: current };
        }
        return { stopped: current }; // the watch ends only when the signal aborts
      } catch (err) {
        if (signal.aborted) return { stopped: current };
        if (!(err instanceof ApiError && err.code === 410)) throw err;
        // Too far behind to resume: read it afresh and watch from there.
        const list = await client.list<Migration>('Migration', { ...selectors, signal });
        const latest = list.items.find((m) => m.metadata.uid === created.metadata.uid);
        if (!latest) return { deleted: current };
        show(latest);
        resourceVersion = list.metadata.resourceVersion;
      }
    }
    return { ended: current };
  } finally {
    clearInterval(ticker);
    view.end();
  }
}

/** A bar on one line of a terminal, redrawn on each change and each second. */
class BarView implements ProgressView {
  private readonly startedAt = Date.now();
  private last: { m: Migration; rate: number | undefined } | undefined;
  private drawn = false;

  constructor(private readonly out: NodeJS.WriteStream) {}

  update(m: Migration, rate: number | undefined, now: number): void {
    this.last = { m, rate };
    this.draw(now);
  }

  tick(now: number): void {
    if (this.last) this.draw(now);
  }

  note(text: string): void {
    this.clear();
    this.out.write(`${text}\n`);
    this.tick(Date.now());
  }

  end(): void {
    this.clear();
  }

  private draw(now: number): void {
    const { m, rate } = this.last!;
    this.out.write(`\r${barLine(m, { rate, elapsedMs: now - this.startedAt, columns: this.out.columns })}\x1b[K`);
    this.drawn = true;
  }

  private clear(): void {
    if (this.drawn) this.out.write('\r\x1b[K');
    this.drawn = false;
  }
}

/** Plain lines for logs and pipes: one per phase change, and within a phase at most every 5 s. */
class LineView implements ProgressView {
  private readonly throttle = new LineThrottle();

  constructor(private readonly out: NodeJS.WritableStream) {}

  update(m: Migration, _rate: number | undefined, now: number): void {
    this.write(this.throttle.offer(phaseOf(m), plainLine(m), now));
  }

  tick(now: number): void {
    this.write(this.throttle.due(now));
  }

  note(text: string): void {
    this.out.write(`${text}\n`);
  }

  end(): void {}

  private write(line: string | undefined): void {
    if (line) this.out.write(`${line}\n`);
  }
}
