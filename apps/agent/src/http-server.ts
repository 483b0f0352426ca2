/**
 * The agent's own endpoint: health, metrics, each VM's serial console for `shoalctl logs`, and
 * the VMs' usage for `shoalctl top` (`/stats/vms`, read by the apiserver's metrics API).
 * With `tls` it serves HTTPS and admits to consoles and metrics only the client certificates
 * endpoint-auth.ts allows; without, it is plain HTTP and open to anyone who reaches the port.
 */
import { open } from 'node:fs/promises';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, register } from 'prom-client';
import { ApiError, notFound, type VmUsage, type VmUsageSummary } from '@shoal/api';
import type { RuntimeDriver } from './runtime/driver.js';
import { refusal, type ClientCertificateRules } from './endpoint-auth.js';
import type { VmUsageSampler } from './usage/vm-usage-sampler.js';

export interface AgentEndpointTls extends ClientCertificateRules {
  /** The serving certificate and its key (PEM). */
  cert: Buffer;
  key: Buffer;
  /** The CA whose client certificates are verified (PEM). */
  clientCa: Buffer;
}

export interface AgentHttpOptions {
  driver: RuntimeDriver;
  ready: () => boolean;
  /** The VMs' sampled usage, for /stats/vms and the per-VM metrics. */
  usage: VmUsageSampler;
  tls?: AgentEndpointTls;
}

const FOLLOW_POLL_MS = 200;

/** The byte offset where the last `lines` lines of a file start. */
async function tailOffset(path: string, lines: number): Promise<number> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    if (lines === 0) return size;
    const chunk = Buffer.alloc(Math.min(size, 1024 * 1024));
    await fh.read(chunk, 0, chunk.length, size - chunk.length);
    let seen = 0;
    for (let i = chunk.length - 1; i >= 0; i--) {
      if (chunk[i] === 0x0a && i !== chunk.length - 1 && ++seen === lines) return size - chunk.length + i + 1;
    }
    return size - chunk.length;
  } finally {
    await fh.close();
  }
}

/** Every runtime in this process (one per simulated node), counted at scrape time so the figure never drifts from what runs. */
const drivers = new Set<RuntimeDriver>();
/** The usage samplers of those runtimes, read at scrape time like them. */
const samplers = new Set<VmUsageSampler>();
let processMetrics = false;

async function allUsage(): Promise<VmUsage[]> {
  return (await Promise.all([...samplers].map((s) => s.usage()))).flat();
}

function registerProcessMetrics(): void {
  if (processMetrics) return;
  processMetrics = true;
  collectDefaultMetrics({ prefix: 'shoal_agent_' });
  new Gauge({
    name: 'shoal_agent_vm_instances',
    help: 'VM instances run by this agent process, by phase (starting, running, stopping, exited).',
    labelNames: ['phase'],
    collect() {
      this.reset();
      for (const d of drivers) for (const i of d.list()) this.inc({ phase: i.phase });
    },
  });
  // The names kube-state-metrics and cAdvisor users know, with the VM's namespace and name.
  new Counter({
    name: 'shoal_vm_cpu_seconds_total',
    help: "CPU time used by a VM's QEMU process (all its vCPUs and device emulation) since it started.",
    labelNames: ['namespace', 'vm'],
    async collect() {
      this.reset();
      for (const u of await allUsage()) this.inc({ namespace: u.namespace, vm: u.name }, u.cpuSecondsTotal);
    },
  });
  new Gauge({
    name: 'shoal_vm_memory_rss_bytes',
    help: "Resident memory of a VM's QEMU process: the guest RAM it has touched plus QEMU's own.",
    labelNames: ['namespace', 'vm'],
    async collect() {
      this.reset();
      for (const u of await allUsage()) this.set({ namespace: u.namespace, vm: u.name }, u.memoryBytes);
    },
  });
}

export function buildAgentHttp(o: AgentHttpOptions): FastifyInstance {
  registerProcessMetrics();
  drivers.add(o.driver);
  samplers.add(o.usage);
  const { tls } = o;
  const app = Fastify({
    logger: false,
    forceCloseConnections: true,
    // Asks every client for a certificate; one without is still let through the handshake, to
    // the open paths only (endpoint-auth.ts says why).
    ...(tls ? { https: { cert: tls.cert, key: tls.key, ca: tls.clientCa, requestCert: true, rejectUnauthorized: false } } : {}),
    // Fastify types an HTTPS instance apart from an HTTP one; the routes are the same either way.
  } as FastifyServerOptions) as unknown as FastifyInstance;
  app.setErrorHandler((err, _req, reply) => {
    const e = err instanceof ApiError ? err : new ApiError(500, 'InternalError', (err as Error).message);
    void reply.code(e.code).send(e.toStatus());
  });
  if (tls) {
    app.addHook('onRequest', async (req) => {
      const denied = refusal(req.raw.socket, req.url.split('?')[0]!, tls);
      if (denied) throw denied;
    });
  }
  app.addHook('onClose', async () => {
    drivers.delete(o.driver);
    samplers.delete(o.usage);
  });
  app.get('/healthz', async () => 'ok');
  app.get('/readyz', async (_req, reply) => (o.ready() ? 'ok' : reply.code(503).send('not ready')));
  app.get('/metrics', async (_req, reply) => reply.type(register.contentType).send(await register.metrics()));
  app.get('/stats/vms', async (): Promise<VmUsageSummary> => ({ items: await o.usage.usage() }));
  app.get<{ Params: { namespace: string; name: string }; Querystring: { follow?: string; tailLines?: string } }>(
    '/logs/:namespace/:name',
    async (req, reply) => {
      const { namespace, name } = req.params;
      const instance = o.driver.list().find((i) => i.namespace === namespace && i.name === name);
      const path = instance && o.driver.consoleLog(instance.uid);
      if (!path) throw notFound({ kind: 'VirtualMachine', group: 'shoal.dev', name });
      const follow = req.query.follow === 'true' || req.query.follow === '1';
      const tail = Number(req.query.tailLines);
      let offset = Number.isInteger(tail) && tail >= 0 ? await tailOffset(path, tail).catch(() => 0) : 0;
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache' });
      // Headers go out now: a follow on a quiet console is still an open stream to the client.
      res.flushHeaders();
      let closed = false;
      res.on('close', () => (closed = true));
      // Copies what the file gained since the last look (the console is append-only), a bounded
      // chunk at a time, waiting for a slow reader to drain before reading on.
      const pump = async () => {
        const fh = await open(path, 'r').catch(() => undefined);
        if (!fh) return;
        try {
          const { size } = await fh.stat();
          while (offset < size && !closed) {
            const buf = Buffer.alloc(Math.min(size - offset, 256 * 1024));
            const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
            if (bytesRead === 0) break;
            offset += bytesRead;
            if (!res.write(buf.subarray(0, bytesRead))) await new Promise((r) => res.once('drain', r).once('close', r));
          }
        } finally {
          await fh.close();
        }
      };
      await pump();
      while (follow && !closed) {
        await new Promise((r) => setTimeout(r, FOLLOW_POLL_MS));
        await pump();
      }
      res.end();
    },
  );
  return app;
}
