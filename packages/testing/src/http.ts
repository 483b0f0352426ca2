/** Raw HTTP against an apiserver, for tests that pin the wire format itself. */
import { request } from 'undici';

export interface HttpAnswer<T = any> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: T;
}

export async function http<T = any>(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpAnswer<T>> {
  const hasBody = body !== undefined;
  const res = await request(`${base}${path}`, {
    method: method as 'GET',
    headers: { ...(hasBody && typeof body !== 'string' ? { 'content-type': 'application/json' } : {}), ...headers },
    body: hasBody ? (typeof body === 'string' ? body : JSON.stringify(body)) : undefined,
  });
  const text = await res.body.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.statusCode, headers: res.headers, body: parsed as T };
}

export interface WatchEventLine {
  type: string;
  object: any;
}

export interface OpenWatch {
  events: WatchEventLine[];
  /** Resolves when the server closes the stream. */
  ended: Promise<void>;
  close(): void;
}

/** Opens a watch and collects its events as they arrive. */
export async function openWatch(base: string, path: string, headers: Record<string, string> = {}): Promise<OpenWatch> {
  const controller = new AbortController();
  const res = await fetch(`${base}${path}`, { signal: controller.signal, headers });
  if (!res.ok || !res.body) throw new Error(`watch ${path}: HTTP ${res.status} ${await res.text()}`);
  const events: WatchEventLine[] = [];
  const decoder = new TextDecoder();
  let buffered = '';
  const ended = (async () => {
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffered += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          if (line.trim()) events.push(JSON.parse(line) as WatchEventLine);
        }
      }
    } catch (err) {
      if ((err as Error).name !== 'AbortError') throw err;
    }
  })();
  return { events, ended, close: () => controller.abort() };
}
