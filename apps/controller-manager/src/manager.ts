/**
 * Runs a set of controllers in one process: builds them on shared informers, starts the
 * informers, waits until every cache is full, then starts each controller once its leader
 * elector says this process leads (AlwaysLeader: at once; LeaseElector with --leader-elect: when
 * it holds that controller's Lease). A standby keeps its informers warm, so it takes over with
 * a full cache. Leadership lost: the controller stops (running reconciles finish), a fresh one is
 * built — its queue and caches may be stale by now — and the process stands for election again.
 * Stops in the reverse order: no new reconciles, running ones finish, Leases are released (a
 * standby takes over at once), informers stop, pending Events are written.
 *
 * With `clientFor` (--controller-tokens-dir) each controller talks to the API as its own user:
 * its informers, event recorder and writes all go through its own client, so it can read and
 * do only what its role allows. Informers are then shared only among controllers with the same
 * client (one InformerFactory per client).
 */
import type { ShoalClient } from '@shoal/client';
import { AlwaysLeader, EventRecorder, InformerFactory, LeaderMetrics, type Controller, type LeaderElector } from '@shoal/controller-runtime';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { DEFAULT_SETTINGS, type ControllerDefinition, type ControllerEnv, type ControllerSettings } from './controllers.js';
import { gitopsCacheDir } from './controller-env.js';
import { gitCache, type GitCache } from './gitops/git/index.js';

export interface ManagerOptions {
  client: ShoalClient;
  /** The client a controller uses (its own credentials); default: `client` for every one. */
  clientFor?: (controller: string) => ShoalClient;
  controllers: readonly ControllerDefinition[];
  registry: Registry;
  /** Default: DEFAULT_SETTINGS. */
  settings?: ControllerSettings;
  log: Logger;
  /** One elector per controller (DESIGN: leader election per controller); default: always leader. */
  electorFor?: (controller: string) => LeaderElector;
}

interface Running {
  definition: ControllerDefinition;
  controller: Controller;
  elector: LeaderElector;
  leading: boolean;
  /** What the controller is built from (again, after a lost leadership). */
  env: ControllerEnv;
}

const FLUSH_TIMEOUT_MS = 5_000;

/** What the controllers using one client share: its informers and its event recorders. */
interface ClientScope {
  informers: InformerFactory;
  recorders: Map<string, EventRecorder>;
  env: ControllerEnv;
}

export class ControllerManager {
  /** The informers of the controllers using the default client. */
  readonly informers: InformerFactory;
  private readonly scopes = new Map<ShoalClient, ClientScope>();
  private readonly running: Running[] = [];
  private readonly stopping = new AbortController();
  private readonly leaderMetrics: LeaderMetrics;
  private synced = false;
  /** The git cache every scope's controllers share (made when a gitops controller first asks). */
  private sharedGitCache?: GitCache;

  constructor(private readonly opts: ManagerOptions) {
    this.informers = this.scope(opts.client).informers;
    this.leaderMetrics = new LeaderMetrics(opts.registry);
    for (const definition of opts.controllers) {
      const { env } = this.scope(opts.clientFor?.(definition.name) ?? opts.client);
      const elector = opts.electorFor?.(definition.name) ?? new AlwaysLeader();
      this.running.push({ definition, controller: definition.build(env), elector, leading: false, env });
      this.leaderMetrics.set(definition.name, false);
    }
  }

  private scope(client: ShoalClient): ClientScope {
    let scope = this.scopes.get(client);
    if (!scope) {
      const informers = new InformerFactory(client, { log: this.opts.log });
      const recorders = new Map<string, EventRecorder>();
      const env: ControllerEnv = {
        client,
        informers,
        registry: this.opts.registry,
        log: this.opts.log,
        settings: this.opts.settings ?? DEFAULT_SETTINGS,
        recorder: (component) => {
          let r = recorders.get(component);
          if (!r) {
            r = new EventRecorder({ client, component, log: this.opts.log });
            recorders.set(component, r);
          }
          return r;
        },
        gitCache: () =>
          (this.sharedGitCache ??= gitCache(gitopsCacheDir(this.opts.settings ?? DEFAULT_SETTINGS), this.opts.log.child({ component: 'git-cache' }))),
      };
      scope = { informers, recorders, env };
      this.scopes.set(client, scope);
    }
    return scope;
  }

  get names(): string[] {
    return this.running.map((r) => r.definition.name);
  }

  /** Every informer has listed once: the controllers see the whole cluster. */
  get ready(): boolean {
    return this.synced && !this.stopping.signal.aborted;
  }

  /** Starts the informers and resolves once they have synced; controllers start as they win leadership. */
  async start(): Promise<void> {
    const factories = [...this.scopes.values()].map((s) => s.informers);
    for (const f of factories) f.start();
    await Promise.all(factories.map((f) => f.waitForSync()));
    if (this.stopping.signal.aborted) return;
    this.synced = true;
    for (const r of this.running) void this.lead(r);
  }

  /** Whether this process leads each controller now. */
  get leading(): Record<string, boolean> {
    return Object.fromEntries(this.running.map((r) => [r.definition.name, r.leading]));
  }

  /** Stands for election, runs the controller while leading, and stands again after a loss, until stop(). */
  private async lead(r: Running): Promise<void> {
    const name = r.definition.name;
    const stopping = this.stopping.signal;
    while (!stopping.aborted) {
      let lost: AbortSignal;
      try {
        lost = await r.elector.acquire(stopping);
      } catch (err) {
        if (!stopping.aborted) this.opts.log.error({ controller: name, err: (err as Error).message }, 'leader election failed');
        return;
      }
      if (stopping.aborted) return; // stop() releases
      r.leading = true;
      this.leaderMetrics.set(name, true);
      r.controller.start();
      this.opts.log.info({ controller: name }, 'leading; controller started');
      await whenEither(lost, stopping);
      if (stopping.aborted) return; // stop() stops the controller, then releases
      r.leading = false;
      this.leaderMetrics.set(name, false);
      const why = lost.reason instanceof Error ? lost.reason.message : String(lost.reason);
      this.opts.log.warn({ controller: name, why }, 'leadership lost; stopping the controller and standing by');
      await r.controller.stop();
      if (stopping.aborted) return;
      r.controller = r.definition.build(r.env);
    }
  }

  /** Reconciles everything a controller watches again (Controller.resync): a setting it reads has changed. */
  resync(controller: string): void {
    for (const r of this.running) if (r.definition.name === controller) r.controller.resync();
  }

  async stop(): Promise<void> {
    if (this.stopping.signal.aborted) return;
    this.stopping.abort();
    await Promise.all(this.running.map((r) => r.controller.stop()));
    // Every elector, not only the leading ones: one may have won a Lease just as we stopped.
    await Promise.all(this.running.map((r) => r.elector.release().catch(() => undefined)));
    for (const r of this.running) {
      r.leading = false;
      this.leaderMetrics.set(r.definition.name, false);
    }
    await Promise.all([...this.scopes.values()].map((s) => s.informers.stop()));
    const flushed = Promise.all([...this.scopes.values()].flatMap((s) => [...s.recorders.values()].map((r) => r.flush())));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([flushed, new Promise((resolve) => (timer = setTimeout(resolve, FLUSH_TIMEOUT_MS)))]);
    clearTimeout(timer);
  }
}

/** Resolves once either signal has aborted. */
function whenEither(a: AbortSignal, b: AbortSignal): Promise<void> {
  if (a.aborted || b.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      a.removeEventListener('abort', done);
      b.removeEventListener('abort', done);
      resolve();
    };
    a.addEventListener('abort', done, { once: true });
    b.addEventListener('abort', done, { once: true });
  });
}
