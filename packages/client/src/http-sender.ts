/**
 * The one HTTP exchange the transport needs, with two ways to make it: undici (the default: its
 * pools suit long-lived controllers and agents) and node:http (for short commands: undici costs
 * an import of a megabyte of JavaScript and a WebAssembly parser whose background compilation
 * the process waits for at exit, several times a short command's own work). lazy-sender.ts
 * loads the chosen one at the first request, so a process never reads the other.
 */
export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE' | 'CONNECT' | 'OPTIONS' | 'TRACE' | 'PATCH';

export type HttpImplementation = 'undici' | 'node';

/** How to trust the servers; fixed for a sender's life. */
export interface TlsSettings {
  ca?: string | Buffer;
  rejectUnauthorized: boolean;
}

export interface SendOptions {
  method: HttpMethod;
  headers: Record<string, string | string[]>;
  body?: string | Buffer;
  signal?: AbortSignal;
  /** Longest wait for the answer's headers. */
  headersTimeoutMs: number;
  /** Longest silence while the body arrives; 0 waits forever. */
  bodyTimeoutMs: number;
}

export type AnswerBody = AsyncIterable<Buffer> & {
  text(): Promise<string>;
  destroy(): void;
};

export interface HttpAnswer {
  statusCode: number;
  /** Lower-case names. */
  headers: Record<string, string | string[] | undefined>;
  body: AnswerBody;
}

export interface HttpSender {
  send(url: string, opts: SendOptions): Promise<HttpAnswer>;
  /** Drops every connection at once. */
  close(): Promise<void>;
}

/** undici's default for a body's silence, which the transport's plain requests have always had. */
export const DEFAULT_BODY_TIMEOUT_MS = 300_000;
