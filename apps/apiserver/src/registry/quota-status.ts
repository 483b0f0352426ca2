/**
 * Keeps status.used of every ResourceQuota equal to what its namespace's VMs use. Driven by the
 * watch cache: a VM or quota changing in a namespace marks it, and a sweep shortly after
 * recomputes that namespace and writes /status where it differs. Best-effort and eventually
 * consistent (admission never reads status.used; it sums the VMs itself). Every apiserver
 * replica runs it; they write the same values, and a failed write is retried.
 */
import { ApiError, type KindInfo, type KubeObject } from '@shoal/api';
import type { ResourceService } from './resource-service.js';
import type { WatchCache } from '../storage/watch-cache.js';
import { namespaceUsage, QUOTA_RESOURCES, usedFor, type QuotaResource } from '../admission/quota-usage.js';

/** Changes arriving together (a burst of creates) are folded into one sweep after this long. */
const SETTLE_MS = 20;
const RETRY_MS = 1_000;

export class QuotaStatus {
  private readonly dirty = new Set<string>();
  private timer?: NodeJS.Timeout;
  private running = false;
  private stopped = false;
  private readonly onChange = (kind: KindInfo, change: { object: KubeObject }) => {
    if (kind.kind !== this.vmKind.kind && kind.kind !== this.quotaKind.kind) return;
    const ns = change.object.metadata.namespace;
    if (ns) this.mark(ns);
  };
  private readonly onReset = () => this.markAll();

  constructor(
    private readonly service: ResourceService,
    private readonly cache: WatchCache,
    private readonly vmKind: KindInfo,
    private readonly quotaKind: KindInfo,
    private readonly log: { warn(obj: object, msg: string): void },
  ) {}

  start(): void {
    this.cache.on('change', this.onChange);
    this.cache.on('reset', this.onReset);
    this.markAll();
  }

  stop(): void {
    this.stopped = true;
    this.cache.off('change', this.onChange);
    this.cache.off('reset', this.onReset);
    clearTimeout(this.timer);
  }

  private markAll(): void {
    for (const { object } of this.cache.objects(this.quotaKind)) this.mark(object.metadata.namespace!);
  }

  private mark(namespace: string): void {
    this.dirty.add(namespace);
    this.kick(SETTLE_MS);
  }

  private kick(delay: number): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.sweep();
    }, delay);
  }

  private async sweep(): Promise<void> {
    if (this.running) return this.kick(SETTLE_MS);
    this.running = true;
    const namespaces = [...this.dirty];
    this.dirty.clear();
    try {
      for (const ns of namespaces) {
        try {
          await this.update(ns);
        } catch (err) {
          this.log.warn({ err: (err as Error).message, namespace: ns }, 'resource quota status update failed; retrying');
          this.dirty.add(ns);
        }
      }
    } finally {
      this.running = false;
    }
    if (this.dirty.size) this.kick(RETRY_MS);
  }

  private async update(namespace: string): Promise<void> {
    const quotas = [...this.cache.objects(this.quotaKind)].map((s) => s.object).filter((q) => q.metadata.namespace === namespace);
    if (!quotas.length) return;
    const vms = [...this.cache.objects(this.vmKind)].map((s) => s.object);
    const used = namespaceUsage(vms, namespace);
    for (const quota of quotas) {
      const want = usedFor(quota, used);
      const have = ((quota.status ?? {}) as { used?: Partial<Record<QuotaResource, number>> }).used ?? {};
      if (QUOTA_RESOURCES.every((r) => have[r] === want[r])) continue;
      // Merge patch: resources no longer limited are removed (null).
      const patch: Record<string, number | null> = {};
      for (const r of QUOTA_RESOURCES) patch[r] = want[r] ?? null;
      try {
        await this.service.patch(
          { kind: this.quotaKind, namespace, name: quota.metadata.name!, subresource: 'status' },
          'merge',
          { status: { used: patch } },
          { fieldValidation: 'Strict', dryRun: false },
        );
      } catch (err) {
        if (!(err instanceof ApiError && err.code === 404)) throw err;
      }
    }
  }
}
