/**
 * A VM's serial console, live: `GET .../virtualmachines/NAME/log?follow=true` streamed as the
 * guest writes (the apiserver relays it from the node agent, apps/apiserver/src/routes/vm-logs.ts),
 * starting from its last lines. A stream that ends or breaks — the VM stopped, moved to another
 * node, its agent restarted — is opened again with a back-off, starting afresh from the last
 * lines; one refused (403: the user may not read consoles) is not. The view follows the end of
 * the text unless the user scrolled up to read.
 */
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { ApiRequestError } from '../api/api-client.js';
import { useApi } from '../api/api-context.js';
import { resourcePath } from '../api/paths.js';
import { ErrorNote } from '../components/badges.js';
import { consoleText } from './console-text.js';

const TAIL_LINES = 1000;
/** Raw bytes kept before they are cleaned for display; the display keeps fewer. */
const RAW_LIMIT = 1_000_000;

interface StreamState {
  live: boolean;
  error?: Error;
}

export function SerialConsole({ namespace, name, nodeName }: { namespace: string; name: string; nodeName: string | undefined }) {
  const api = useApi();
  const [text, setText] = useState('');
  const [state, setState] = useState<StreamState>({ live: false });
  useEffect(() => {
    if (!nodeName) {
      setState({ live: false, error: new Error('the VM is not on a node yet: its console opens once it is scheduled') });
      return undefined;
    }
    const abort = new AbortController();
    let raw = '';
    let frame = 0;
    const flush = () => {
      frame = 0;
      setText(consoleText(raw));
    };
    void (async () => {
      const path = resourcePath({ plural: 'virtualmachines', namespace, name, subresource: 'log' });
      for (let failures = 0; !abort.signal.aborted; failures++) {
        try {
          const res = await api.stream(path, { query: { follow: 'true', tailLines: TAIL_LINES }, accept: 'text/plain', signal: abort.signal });
          raw = '';
          flush();
          setState({ live: true });
          const reader = res.body!.getReader();
          const decoder = new TextDecoder();
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            raw += decoder.decode(value, { stream: true });
            if (raw.length > RAW_LIMIT) raw = raw.slice(-RAW_LIMIT / 2);
            failures = 0;
            if (!frame) frame = requestAnimationFrame(flush);
          }
          setState({ live: false, error: new Error('the console stream ended; reopening') });
        } catch (err) {
          if (abort.signal.aborted) return;
          setState({ live: false, error: err as Error });
          if (err instanceof ApiRequestError && (err.code === 401 || err.code === 403)) return;
        }
        await new Promise((r) => setTimeout(r, Math.min(10_000, 1000 * 2 ** Math.min(failures, 4))));
      }
    })();
    return () => {
      abort.abort();
      if (frame) cancelAnimationFrame(frame);
    };
  }, [api, namespace, name, nodeName]);

  const pre = useRef<HTMLPreElement>(null);
  const following = useRef(true);
  useLayoutEffect(() => {
    if (following.current && pre.current) pre.current.scrollTop = pre.current.scrollHeight;
  }, [text]);
  const onScroll = () => {
    const el = pre.current!;
    following.current = el.scrollTop + el.clientHeight >= el.scrollHeight - 24;
  };
  return (
    <section class="panel serial-console" aria-label="Serial console">
      <h2>
        Serial console{' '}
        {state.live ? (
          <span class="live" data-live="true">
            live
          </span>
        ) : null}
      </h2>
      {!state.live && state.error ? <ErrorNote error={state.error} /> : null}
      <pre ref={pre} class="console-text" data-console onScroll={onScroll}>
        {text}
      </pre>
    </section>
  );
}
