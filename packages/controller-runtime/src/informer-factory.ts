/**
 * Shared informers (client-go's SharedInformerFactory): one list+watch per kind and selector
 * per process, however many controllers read that kind. Controllers ask for informers while
 * they are wired, then the process starts them all and waits for every cache to fill before
 * any controller runs a reconcile.
 */
import type { KubeObject } from '@shoal/api';
import { Informer, resolveKind, type InformerOptions, type ShoalClient } from '@shoal/client';
import type { Logger } from 'pino';

export class InformerFactory {
  private readonly informers = new Map<string, Informer<KubeObject>>();
  private started = false;

  constructor(
    private readonly client: ShoalClient,
    private readonly opts: { log?: Logger; informer?: Omit<InformerOptions, 'namespace' | 'labelSelector' | 'fieldSelector'> } = {},
  ) {}

  /** The process-wide informer for this kind (and selectors); created on first use. */
  informer<T extends KubeObject = KubeObject>(
    kind: string,
    selectors: Pick<InformerOptions, 'namespace' | 'labelSelector' | 'fieldSelector'> = {},
  ): Informer<T> {
    const info = resolveKind(kind);
    const id = JSON.stringify([info.plural, selectors.namespace ?? '', selectors.labelSelector ?? '', selectors.fieldSelector ?? '']);
    let informer = this.informers.get(id);
    if (!informer) {
      informer = new Informer<KubeObject>(this.client, info, { ...this.opts.informer, ...selectors });
      const log = this.opts.log;
      informer.on('warning', (err) => log?.warn({ kind: info.plural, err: err instanceof Error ? err.message : String(err) }, 'informer retrying'));
      this.informers.set(id, informer);
      if (this.started) informer.start();
    }
    return informer as unknown as Informer<T>;
  }

  /** Starts every informer asked for so far, and any asked for later. */
  start(): void {
    this.started = true;
    for (const i of this.informers.values()) i.start();
  }

  hasSynced(): boolean {
    return [...this.informers.values()].every((i) => i.hasSynced());
  }

  /** Resolves once every informer has listed once. */
  async waitForSync(opts: { timeoutMs?: number } = {}): Promise<void> {
    await Promise.all([...this.informers.values()].map((i) => i.waitForSync(opts)));
  }

  async stop(): Promise<void> {
    this.started = false;
    await Promise.all([...this.informers.values()].map((i) => i.stop()));
  }
}
