/**
 * The node agent's side of the console-log contract, played by a small real HTTP server, so the
 * apiserver's log route and `shoalctl logs` can be tested before the real agent serves it:
 *
 *   GET /logs/{namespace}/{name}?follow=true|false&tailLines=N
 *     → 200 text/plain; charset=utf-8 (held open with follow=true, fed by write())
 *     → 404 Status JSON when there is no such VM
 *
 * The real agent serves the same contract (apps/agent/src/http-server.ts) and is what
 * `shoalctl logs` is tested against end to end; this stand-in is for the cases a real guest cannot
 * produce on cue: a console written line by line by the test, an agent that dies mid-stream,
 * seeing exactly which requests (follow, tailLines) reached the agent and when they closed.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface AgentLogRequest {
  namespace: string;
  name: string;
  follow: boolean;
  tailLines?: number;
  /** Set when the connection closed, from either side. */
  closed: boolean;
}

export interface AgentLogStandIn {
  /** `http://127.0.0.1:PORT`, what goes into Node.status.agentAddress. */
  address: string;
  /** Every request received, in order. */
  requests: AgentLogRequest[];
  /** Appends console output for a VM (creating it); followers receive it at once. */
  write(namespace: string, name: string, text: string): void;
  /** Ends every follow stream of a VM, as when its console closes. */
  endStreams(namespace: string, name: string): void;
  /** Follow streams of a VM that are still open. */
  openFollowers(namespace: string, name: string): number;
  stop(): Promise<void>;
}

interface Console {
  text: string;
  followers: Set<ServerResponse>;
}

export async function startAgentLogStandIn(): Promise<AgentLogStandIn> {
  const consoles = new Map<string, Console>();
  const requests: AgentLogRequest[] = [];
  const keyOf = (namespace: string, name: string) => `${namespace}/${name}`;

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const m = /^\/logs\/([^/]+)\/([^/]+)$/.exec(url.pathname);
    if (req.method !== 'GET' || !m) return status(res, 404, 'NotFound', `no route ${req.method} ${url.pathname}`);
    const namespace = decodeURIComponent(m[1]);
    const name = decodeURIComponent(m[2]);
    const follow = url.searchParams.get('follow') === 'true';
    const tail = url.searchParams.get('tailLines');
    const record: AgentLogRequest = { namespace, name, follow, tailLines: tail === null ? undefined : Number(tail), closed: false };
    requests.push(record);
    res.on('close', () => {
      record.closed = true;
    });
    const vm = consoles.get(keyOf(namespace, name));
    if (!vm) return status(res, 404, 'NotFound', `virtualmachine ${namespace}/${name} is not on this node`);
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    res.flushHeaders();
    const initial = record.tailLines === undefined ? vm.text : lastLines(vm.text, record.tailLines);
    if (initial) res.write(initial);
    if (!follow) return res.end();
    vm.followers.add(res);
    res.on('close', () => vm.followers.delete(res));
  });
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    address: `http://127.0.0.1:${port}`,
    requests,
    write(namespace, name, text) {
      const key = keyOf(namespace, name);
      let vm = consoles.get(key);
      if (!vm) consoles.set(key, (vm = { text: '', followers: new Set() }));
      vm.text += text;
      for (const f of vm.followers) f.write(text);
    },
    endStreams(namespace, name) {
      const vm = consoles.get(keyOf(namespace, name));
      for (const f of vm?.followers ?? []) f.end();
      vm?.followers.clear();
    },
    openFollowers(namespace, name) {
      return consoles.get(keyOf(namespace, name))?.followers.size ?? 0;
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The last n lines of text; a final line without a newline counts as a line. */
function lastLines(text: string, n: number): string {
  if (n <= 0) return '';
  const lines = text.split(/(?<=\n)/);
  return lines.slice(-n).join('');
}

function status(res: ServerResponse, code: number, reason: string, message: string): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason, message, code }));
}
