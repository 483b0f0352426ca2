/**
 * The node's status.images: the image files its cache holds, verified — written by this node's
 * agent only (it is the one that knows), read by the Image controller to say where each Image
 * is cached. Written at start and after every change of the cache, coalesced; a write that
 * fails is made again on the next change or retry.
 */
import type { ShoalClient } from '@shoal/client';
import type { Logger } from 'pino';
import type { ImageStore } from './image-store.js';

const COALESCE_MS = 200;
const RETRY_MS = 5_000;

export function reportNodeImages(o: { client: ShoalClient; nodeName: string; store: ImageStore; log: Logger }): { stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  let written: string | undefined;
  let stopped = false;
  const write = async () => {
    timer = undefined;
    const images = o.store.list();
    const body = JSON.stringify(images);
    if (body === written) return;
    try {
      await o.client.patch('node', o.nodeName, { status: { images } }, { type: 'merge', status: true });
      written = body;
    } catch (err) {
      o.log.warn({ err: (err as Error).message }, 'writing the node status.images; trying again');
      schedule(RETRY_MS);
    }
  };
  const schedule = (ms = COALESCE_MS) => {
    if (stopped || timer) return;
    timer = setTimeout(() => void write(), ms);
    timer.unref();
  };
  const onChange = () => schedule();
  o.store.on('change', onChange);
  schedule(0);
  return {
    stop() {
      stopped = true;
      o.store.off('change', onChange);
      if (timer) clearTimeout(timer);
    },
  };
}
