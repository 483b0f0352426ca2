/**
 * /healthz (the process is alive), /readyz (its caches are synced) and /metrics (Prometheus),
 * on the controller-manager's own port — 10257, as kube-controller-manager's secure port.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface HealthServerOptions {
  port: number;
  bind: string;
  registry: Registry;
  /** Answers the reasons the process is not ready, or none. */
  notReady(): string[];
}

export interface HealthServer {
  port: number;
  close(): Promise<void>;
}

export async function startHealthServer(o: HealthServerOptions): Promise<HealthServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const text = (code: number, body: string) => res.writeHead(code, { 'content-type': 'text/plain; charset=utf-8' }).end(body);
    if (req.method !== 'GET' && req.method !== 'HEAD') return text(405, 'method not allowed\n');
    switch (path) {
      case '/healthz':
      case '/livez':
        return text(200, 'ok');
      case '/readyz': {
        const problems = o.notReady();
        return problems.length ? text(503, `not ready: ${problems.join('; ')}`) : text(200, 'ok');
      }
      case '/metrics':
        o.registry
          .metrics()
          .then((body) => res.writeHead(200, { 'content-type': o.registry.contentType }).end(body))
          .catch((err: Error) => text(500, `metrics failed: ${err.message}\n`));
        return;
      default:
        return text(404, 'not found\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.bind, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
