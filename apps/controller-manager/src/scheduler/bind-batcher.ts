/**
 * Sends the scheduler's binds to the apiserver in BindingLists (`POST .../bindings`,
 * ShoalClient.bindMany) instead of one request each. Nothing waits to fill a batch: a bind goes
 * out at once when a request slot is free, and the binds that arrive while every slot is busy
 * leave together in the next request. An idle scheduler therefore binds with a single round trip,
 * and a busy one sends fewer, larger requests the busier it is — which the apiserver turns into
 * few etcd transactions (ResourceService.bindMany).
 *
 * Each bind still has its own outcome: bind() resolves when that VM is bound and rejects with the
 * ApiError its own single bind would have got (409, 404, ...). A request that fails as a whole (a
 * broken connection, a 5xx) fails every bind it carried with that error. An identity that may not
 * create `bindings` at the cluster scope (403), or a server without the endpoint (404), makes the
 * batcher bind one VM at a time through each VM's binding subresource from then on — what a
 * scheduler allowed only `virtualmachines/binding`, perhaps in a few namespaces, can do.
 */
import { ApiError, type BindingResult, type Status } from '@shoal/api';
import type { BulkBind, ShoalClient } from '@shoal/client';

export interface BindBatcherOptions {
  /** Requests in flight at once. */
  maxRequests: number;
  /** Binds per request at most (the server takes up to 1,000). */
  maxBatch: number;
}

interface Waiting {
  bind: BulkBind;
  resolve(): void;
  reject(err: unknown): void;
}

export class BindBatcher {
  private readonly waiting: Waiting[] = [];
  private sending = 0;
  /** The bulk endpoint is not ours to use: bind each VM on its own. */
  private oneByOne = false;

  constructor(
    private readonly client: Pick<ShoalClient, 'bindMany' | 'bind'>,
    private readonly opts: BindBatcherOptions,
  ) {}

  bind(bind: BulkBind): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ bind, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.sending < this.opts.maxRequests && this.waiting.length) {
      const batch = this.waiting.splice(0, this.opts.maxBatch);
      this.sending++;
      void this.send(batch).finally(() => {
        this.sending--;
        this.pump();
      });
    }
  }

  private async send(batch: Waiting[]): Promise<void> {
    if (this.oneByOne) return this.sendOneByOne(batch);
    let results: BindingResult[];
    try {
      results = await this.client.bindMany(batch.map((w) => w.bind));
    } catch (err) {
      if (err instanceof ApiError && (err.code === 403 || err.code === 404)) {
        this.oneByOne = true;
        return this.sendOneByOne(batch);
      }
      for (const w of batch) w.reject(err);
      return;
    }
    batch.forEach((w, i) => {
      const result = results[i];
      if (result?.status === 'Success') w.resolve();
      // A failed item's result is the Status its single bind would have answered.
      else w.reject(result ? ApiError.fromStatus(result as Status) : new ApiError(500, 'InternalError', 'the server answered fewer results than binds'));
    });
  }

  private async sendOneByOne(batch: Waiting[]): Promise<void> {
    await Promise.all(
      batch.map(({ bind, resolve, reject }) =>
        this.client.bind(bind.namespace, bind.name, bind.nodeName, { resourceVersion: bind.resourceVersion }).then(() => resolve(), reject),
      ),
    );
  }
}
