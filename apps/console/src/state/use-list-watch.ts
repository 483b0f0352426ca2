/**
 * A component's live view of a list: list+watch (api/list-watch.ts) into a Collection, and one
 * render per animation frame however many events arrived in it — a burst of 10,000 changes is
 * applied as it comes and drawn a few times, not 10,000 times. A new path or selector starts
 * over; leaving the page stops the watch.
 */
import { useEffect, useState } from 'preact/hooks';
import type { KubeObject } from '@shoal/api/browser';
import { useApi } from '../api/api-context.js';
import { listWatch, type ConnectionState, type Selectors } from '../api/list-watch.js';
import { Collection } from './collection.js';

export interface ListWatchView<T extends KubeObject> extends ConnectionState {
  items: Collection<T>;
  /** items.revision when this view was made: a changed value means changed items. */
  revision: number;
  /** The first list has arrived. */
  synced: boolean;
}

/** `path` undefined: nothing to watch (yet). */
export function useListWatch<T extends KubeObject>(path: string | undefined, selectors: Selectors = {}): ListWatchView<T> {
  const api = useApi();
  const key = path === undefined ? '' : `${path}?${selectors.labelSelector ?? ''}&${selectors.fieldSelector ?? ''}`;
  const [view, setView] = useState<ListWatchView<T>>(() => ({ items: new Collection<T>(), revision: 0, synced: false, live: false }));
  useEffect(() => {
    const items = new Collection<T>();
    let connection: ConnectionState = { live: false };
    let synced = false;
    let frame = 0;
    const publish = () => {
      frame = 0;
      setView({ items, revision: items.revision, synced, ...connection });
    };
    const schedule = () => {
      if (!frame) frame = requestAnimationFrame(publish);
    };
    publish();
    if (path === undefined) return undefined;
    const stop = listWatch<T>(api, path, selectors, {
      replace(list) {
        items.replace(list);
        synced = true;
        schedule();
      },
      events(events) {
        let changed = false;
        for (const e of events) changed = items.apply(e) || changed;
        if (changed) schedule();
      },
      state(s) {
        connection = s;
        schedule();
      },
    });
    return () => {
      stop();
      if (frame) cancelAnimationFrame(frame);
    };
    // `key` stands for path and selectors: a new selectors object with the same values is the same watch.
  }, [api, key]);
  return view;
}
