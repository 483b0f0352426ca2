/**
 * HTTP through node:http, which a process has without importing anything large: what short
 * commands (shoalctl) use. Keep-alive connections per origin, as undici keeps them, so a command
 * of many requests connects once. Timeouts fail with undici's codes and messages, so that
 * connection-errors.ts judges them and people read them as they always have.
 */
import http from 'node:http';
import type https from 'node:https';
import type { Socket } from 'node:net';
import type { AnswerBody, HttpAnswer, HttpSender, SendOptions, TlsSettings } from './http-sender.js';

export class NodeHttpSender implements HttpSender {
  private readonly plainAgent = new http.Agent({ keepAlive: true });
  /** Made for the first https URL: node:https (and TLS) is loaded only by a client that needs it. */
  private tlsAgent: Promise<{ module: typeof https; agent: https.Agent }> | undefined;

  constructor(private readonly tls: TlsSettings) {}

  async send(url: string, opts: SendOptions): Promise<HttpAnswer> {
    const target = new URL(url);
    const { request, agent } =
      target.protocol === 'https:'
        ? await this.secure().then((s) => ({ request: s.module.request, agent: s.agent }))
        : { request: http.request, agent: this.plainAgent };
    const headers = { ...opts.headers, ...(opts.body !== undefined ? { 'content-length': String(Buffer.byteLength(opts.body)) } : {}) };
    return new Promise<HttpAnswer>((resolve, reject) => {
      const req = request(target, { method: opts.method, headers, agent, signal: opts.signal });
      const headersTimer = setTimeout(() => req.destroy(timeoutError('Headers Timeout Error', 'UND_ERR_HEADERS_TIMEOUT')), opts.headersTimeoutMs);
      // Not once: a socket failing after the answer arrived fails the request again, and an error without a listener would end the process.
      req.on('error', (err) => {
        clearTimeout(headersTimer);
        reject(err);
      });
      req.once('response', (res) => {
        clearTimeout(headersTimer);
        if (opts.bodyTimeoutMs > 0) limitSilence(res, opts.bodyTimeoutMs);
        resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body: answerBody(res) });
      });
      req.end(opts.body);
    });
  }

  async close(): Promise<void> {
    this.plainAgent.destroy();
    if (this.tlsAgent) (await this.tlsAgent).agent.destroy();
  }

  private secure(): Promise<{ module: typeof https; agent: https.Agent }> {
    return (this.tlsAgent ??= import('node:https').then((module) => ({
      module,
      agent: new module.Agent({ keepAlive: true, ...(this.tls.ca ? { ca: this.tls.ca } : {}), rejectUnauthorized: this.tls.rejectUnauthorized }),
    })));
  }
}

/** The answer as it is (it iterates as Buffers and destroys), plus text() as undici's has it. */
function answerBody(res: http.IncomingMessage): AnswerBody {
  const text = async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  };
  return Object.assign(res, { text });
}

/** Fails the body after ms without data; the socket outlives the answer (keep-alive), so the listener goes with the answer. */
function limitSilence(res: http.IncomingMessage, ms: number): void {
  const socket: Socket = res.socket;
  const onSilence = () => res.destroy(timeoutError('Body Timeout Error', 'UND_ERR_BODY_TIMEOUT'));
  socket.setTimeout(ms);
  socket.on('timeout', onSilence);
  res.once('close', () => {
    socket.off('timeout', onSilence);
    socket.setTimeout(0);
  });
}

function timeoutError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}
