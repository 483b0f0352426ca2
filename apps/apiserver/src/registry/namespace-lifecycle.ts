/**
 * Deleting a namespace deletes what is in it, as in Kubernetes: every namespace carries the
 * `shoal.dev/namespace-contents` finalizer; once it is being deleted, this loop deletes its
 * objects (each through the normal delete, so their own finalizers are honoured) and drops the
 * finalizer when nothing is left. Every apiserver replica runs it; the deletes are idempotent,
 * and it resumes after a restart because the state it works from is in etcd.
 */
import { ApiError, ignoreNotFound, NAMESPACE_FINALIZER, type KindInfo, type KubeObject } from '@shoal/api';
import type { ResourceService } from './resource-service.js';
import type { WatchCache } from '../storage/watch-cache.js';


const RETRY_MS = 1_000;

export class NamespaceLifecycle {
  private timer?: NodeJS.Timeout;
  private running = false;
  private readonly onChange = (kind: KindInfo, change: { object: KubeObject }) => {
    if (kind.kind === 'Namespace' && change.object.metadata.deletionTimestamp) this.kick();
  };

  constructor(
    private readonly service: ResourceService,
    private readonly cache: WatchCache,
    private readonly kinds: KindInfo[],
    private readonly log: { warn(obj: object, msg: string): void },
  ) {}

  start(): void {
    this.cache.on('change', this.onChange);
    this.kick();
  }

  stop(): void {
    this.cache.off('change', this.onChange);
    clearTimeout(this.timer);
  }

  private kick(delay = 0): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.sweep(), delay);
  }

  private async sweep(): Promise<void> {
    if (this.running) return this.kick(RETRY_MS);
    this.running = true;
    let unfinished = false;
    try {
      const nsKind = this.kinds.find((k) => k.kind === 'Namespace')!;
      const terminating = [...this.cache.objects(nsKind)].map((s) => s.object).filter((ns) => ns.metadata.deletionTimestamp);
      for (const ns of terminating) unfinished = !(await this.finish(nsKind, ns)) || unfinished;
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'namespace clean-up failed; retrying');
      unfinished = true;
    } finally {
      this.running = false;
    }
    if (unfinished) this.kick(RETRY_MS);
  }

  /** Deletes a terminating namespace's contents; true once the namespace itself could go. */
  private async finish(nsKind: KindInfo, ns: KubeObject): Promise<boolean> {
    const name = ns.metadata.name!;
    let remaining = 0;
    for (const kind of this.kinds.filter((k) => k.namespaced)) {
      for (const { object } of [...this.cache.objects(kind)]) {
        if (object.metadata.namespace !== name) continue;
        remaining++;
        if (object.metadata.deletionTimestamp) continue;
        await ignoreNotFound(this.service.delete({ kind, namespace: name, name: object.metadata.name! }, { dryRun: false }));
      }
    }
    if (remaining > 0) return false;
    const finalizers = (ns.metadata.finalizers ?? []).filter((f) => f !== NAMESPACE_FINALIZER);
    await ignoreNotFound(
      this.service.patch({ kind: nsKind, name }, 'merge', { metadata: { finalizers: finalizers.length ? finalizers : null } }, { dryRun: false, fieldValidation: 'Strict' }),
    );
    return true;
  }
}
