/**
 * etcd keeps every revision of every key until it is compacted. The apiservers compact it, as
 * kube-apiserver does (k8s.io/apiserver/pkg/storage/etcd3/compact.go): every interval, to the
 * revision observed one interval before, so that a watch can still resume from any
 * resourceVersion younger than one interval, and older history goes.
 *
 * Replicas share the work through one key, `compact_rev_key`, with kube-apiserver's protocol:
 * the key's version is a logical clock ("compact time"), its value the revision last compacted
 * to. On each tick a replica writes the key in a transaction that holds only if the version is
 * still the one it last saw:
 *
 *   txn(version(compact_rev_key) == mine) → put(revision observed one tick ago), then compact it
 *                                          else → read the key: another replica compacted this
 *                                                 round; take its clock and compact nothing
 *
 * So in each interval one replica compacts and the others learn that it did; if it dies, the
 * next one to tick takes over. Compacting to a revision etcd has already compacted past (another
 * replica, a restore that marked history compacted, an operator) fails with "required revision
 * has been compacted": the job is done, and it is logged as such, not as an error.
 */
import type { Etcd3 } from 'etcd3';

/** kube-apiserver's key, so a cluster's compaction is coordinated the same way whoever runs it. */
export const COMPACT_REV_KEY = 'compact_rev_key';

export interface CompactorLog {
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface CompactorOptions {
  intervalMs: number;
  log: CompactorLog;
  /** After history up to `revision` is gone from etcd (compacted here, or learnt from another replica). */
  onCompacted?: (revision: number) => void;
}

export type TickOutcome =
  /** This replica won the round and compacted etcd to `revision` (or found it compacted past that already). */
  | { compacted: number; alreadyCompacted: boolean }
  /** This replica won the round, but had observed no revision yet (its first round): nothing to compact. */
  | { compacted: undefined; firstRound: true }
  /** Another replica won the round; `revision` is what it compacted to. */
  | { compacted: undefined; lostTo: number };

const ALREADY_COMPACTED = /required revision has been compacted/;

export class EtcdCompactor {
  /** The version of compact_rev_key this replica last saw (0: the key does not exist). */
  private compactTime = 0;
  /** The revision observed at the last tick: what the next round compacts to. */
  private observed = 0;
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  private stopped = false;

  constructor(
    private readonly etcd: Etcd3,
    private readonly o: CompactorOptions,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick()
        .catch((err) => this.o.log.warn({ err: (err as Error).message }, 'etcd compaction failed; trying again next interval'))
        .finally(() => this.schedule());
    }, this.o.intervalMs);
    this.timer.unref();
  }

  /** One round of the protocol above; the timer calls it every interval (tests may call it themselves). */
  async tick(): Promise<TickOutcome> {
    const toCompact = this.observed;
    const res = await this.etcd
      .if(COMPACT_REV_KEY, 'Version', '==', this.compactTime)
      .then(this.etcd.put(COMPACT_REV_KEY).value(String(toCompact)))
      .else(this.etcd.get(COMPACT_REV_KEY))
      .commit();
    const revision = Number(res.header.revision);
    this.observed = revision;
    if (!res.succeeded) {
      const kv = res.responses[0]?.response_range?.kvs[0];
      this.compactTime = Number(kv?.version ?? 0);
      const theirs = Number(kv?.value.toString() ?? 0);
      this.o.log.debug({ compactRevision: theirs, compactTime: this.compactTime }, 'etcd compacted by another apiserver this round');
      if (theirs > 0) this.o.onCompacted?.(theirs);
      return { compacted: undefined, lostTo: theirs };
    }
    this.compactTime++;
    // The first round only starts the clock (kube-apiserver: "we don't compact on bootstrap").
    if (toCompact === 0) return { compacted: undefined, firstRound: true };
    let alreadyCompacted = false;
    try {
      await this.etcd.kv.compact({ revision: String(toCompact), physical: false });
      this.o.log.debug({ revision: toCompact, compactTime: this.compactTime }, 'etcd compacted');
    } catch (err) {
      if (!ALREADY_COMPACTED.test((err as Error).message)) throw err;
      alreadyCompacted = true;
      this.o.log.debug({ revision: toCompact, compactTime: this.compactTime }, 'etcd was compacted past this revision already');
    }
    this.o.onCompacted?.(toCompact);
    return { compacted: toCompact, alreadyCompacted };
  }
}
