/**
 * Events, the way client-go's record package writes them: one `Event` object per distinct
 * happening, and a repeat of the same (object, type, reason, message) bumps `count` and
 * `lastTimestamp` on the existing Event instead of creating another (EventCorrelator).
 *
 * Recording never blocks or fails a reconcile: writes run in the background, serialized per
 * distinct event, and failures are logged. flush() waits for what is in flight (tests, shutdown).
 *
 * At most `maxInFlight` writes run at once; the others wait their turn (client-go writes events
 * from one goroutine). Events are the lowest-stakes writes a controller makes: a scheduler
 * binding thousands of VMs a second must not answer each bind with a request racing the next
 * binds for the apiserver. Past MAX_WAITING waiting writes, new events are dropped and logged,
 * as client-go drops them when its queue is full: memory stays bounded while the apiserver is away.
 */
import { ApiError, API_VERSION, DEFAULT_NAMESPACE, timestamp as apiTimestamp, type Event, type EventType, type KubeObject } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import pino, { type Logger } from 'pino';

/** An Event as the recorder writes it: every field it sets is there. */
export type EventObject = Event & Required<Pick<Event, 'reason' | 'message' | 'firstTimestamp' | 'lastTimestamp' | 'source'>>;

export interface EventRecorderOptions {
  client: ShoalClient;
  /** Who reports (`shoal-scheduler`): source.component. */
  component: string;
  host?: string;
  log?: Logger;
  now?: () => Date;
  /** Distinct events remembered for aggregation; the oldest are forgotten first. */
  cacheSize?: number;
  /** Event writes under way at once (16). */
  maxInFlight?: number;
}

/** Writes waiting for a turn beyond which new events are dropped. */
const MAX_WAITING = 10_000;

interface Seen {
  name: string;
  namespace: string;
  count: number;
  firstTimestamp: string;
}

/** The Event schema caps messages at 32 KiB. */
const MAX_MESSAGE = 32_768;

export class EventRecorder {
  private readonly seen = new Map<string, Seen>();
  /** The last write per distinct event, so repeats apply in order. */
  private readonly chains = new Map<string, Promise<void>>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly log: Logger;
  private readonly now: () => Date;
  private sequence = 0;
  private writing = 0;
  private readonly waiting: (() => void)[] = [];
  private dropped = 0;

  constructor(private readonly opts: EventRecorderOptions) {
    this.log = opts.log ?? pino({ level: 'silent' });
    this.now = opts.now ?? (() => new Date());
  }

  /** Records that `reason` happened to `object`; returns at once (see flush()). */
  event(object: KubeObject, type: EventType, reason: string, message: string): void {
    const meta = object.metadata;
    const id = JSON.stringify([meta.uid ?? `${meta.namespace}/${meta.name}`, type, reason, message]);
    const timestamp = apiTimestamp(this.now());
    if (this.waiting.length >= MAX_WAITING) {
      if (this.dropped++ % 1000 === 0)
        this.log.warn({ component: this.opts.component, reason, object: meta.name, dropped: this.dropped }, 'dropping events: too many waiting to be written');
      return;
    }
    const previous = this.chains.get(id) ?? Promise.resolve();
    const write = previous.then(() => this.inTurn(() => this.write(id, object, type, reason, message.slice(0, MAX_MESSAGE), timestamp)));
    this.chains.set(id, write);
    this.inFlight.add(write);
    void write.finally(() => {
      this.inFlight.delete(write);
      if (this.chains.get(id) === write) this.chains.delete(id);
    });
  }

  /** Waits for every event recorded so far to be written (or to have failed). */
  async flush(): Promise<void> {
    while (this.inFlight.size) await Promise.all([...this.inFlight]);
  }

  /** Runs `fn` when fewer than maxInFlight writes are under way; a finished write hands its turn to the next waiting one. */
  private async inTurn(fn: () => Promise<void>): Promise<void> {
    if (this.writing < (this.opts.maxInFlight ?? 16)) this.writing++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.writing--;
    }
  }

  private async write(id: string, object: KubeObject, type: EventType, reason: string, message: string, timestamp: string): Promise<void> {
    try {
      const seen = this.seen.get(id);
      if (seen) {
        try {
          await this.opts.client.patch(
            'event',
            seen.name,
            { count: seen.count + 1, lastTimestamp: timestamp },
            { type: 'merge', namespace: seen.namespace, discardAnswer: true },
          );
          seen.count++;
          this.remember(id, seen);
          return;
        } catch (err) {
          // Someone removed it (TTL, a user): start a new one below.
          if (!(err instanceof ApiError && err.code === 404)) throw err;
        }
      }
      const created = await this.create(object, type, reason, message, timestamp);
      this.remember(id, { ...created, count: 1, firstTimestamp: timestamp });
    } catch (err) {
      this.log.warn(
        { component: this.opts.component, reason, object: object.metadata.name, err: err instanceof Error ? err.message : String(err) },
        'could not record event',
      );
    }
  }

  /** Creates the Event; answers the name and namespace it was created under (the server keeps both as sent, so its answer is not read). */
  private async create(object: KubeObject, type: EventType, reason: string, message: string, timestamp: string): Promise<{ name: string; namespace: string }> {
    const meta = object.metadata;
    // Cluster-scoped objects (Nodes) get their events in `default`, as Kubernetes does.
    const namespace = meta.namespace || DEFAULT_NAMESPACE;
    for (let attempt = 0; ; attempt++) {
      const event: EventObject = {
        apiVersion: API_VERSION,
        kind: 'Event',
        metadata: { name: this.eventName(meta.name ?? 'unknown'), namespace },
        involvedObject: {
          apiVersion: object.apiVersion,
          kind: object.kind ?? 'Unknown',
          name: meta.name ?? '',
          ...(meta.namespace ? { namespace: meta.namespace } : {}),
          ...(meta.uid ? { uid: meta.uid } : {}),
          ...(meta.resourceVersion ? { resourceVersion: meta.resourceVersion } : {}),
        },
        reason,
        message,
        type,
        count: 1,
        firstTimestamp: timestamp,
        lastTimestamp: timestamp,
        source: { component: this.opts.component, ...(this.opts.host ? { host: this.opts.host } : {}) },
      };
      try {
        await this.opts.client.create<EventObject>('event', event, { namespace, discardAnswer: true });
        return { name: event.metadata.name!, namespace };
      } catch (err) {
        // Another recorder picked the same name in the same instant: pick again.
        if (err instanceof ApiError && err.reason === 'AlreadyExists' && attempt < 3) continue;
        throw err;
      }
    }
  }

  /** `name.<hex time>` as Kubernetes names events; the sequence keeps names unique within one process. */
  private eventName(objectName: string): string {
    const nanos = BigInt(this.now().getTime()) * 1_000_000n + BigInt(this.sequence++ % 1_000_000);
    return `${objectName}.${nanos.toString(16)}`;
  }

  private remember(id: string, seen: Seen): void {
    this.seen.delete(id);
    this.seen.set(id, seen);
    const max = this.opts.cacheSize ?? 4096;
    while (this.seen.size > max) this.seen.delete(this.seen.keys().next().value!);
  }
}
