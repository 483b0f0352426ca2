/** HTTP through undici: one agent for every server, a keep-alive pool per origin inside it. */
import { Agent, request } from 'undici';
import type { AnswerBody, HttpAnswer, HttpSender, SendOptions, TlsSettings } from './http-sender.js';

export class UndiciSender implements HttpSender {
  private readonly agent: Agent;

  constructor(tls: TlsSettings) {
    this.agent = new Agent({
      keepAliveTimeout: 30_000,
      connect: { ...(tls.ca ? { ca: tls.ca } : {}), rejectUnauthorized: tls.rejectUnauthorized },
    });
  }

  async send(url: string, opts: SendOptions): Promise<HttpAnswer> {
    const res = await request(url, {
      method: opts.method,
      dispatcher: this.agent,
      headers: opts.headers,
      body: opts.body,
      signal: opts.signal,
      headersTimeout: opts.headersTimeoutMs,
      bodyTimeout: opts.bodyTimeoutMs,
    });
    // undici's body already reads as text, destroys and iterates as Buffers.
    return { statusCode: res.statusCode, headers: res.headers, body: res.body as unknown as AnswerBody };
  }

  async close(): Promise<void> {
    await this.agent.destroy();
  }
}
