/** Sends hostile cases exactly as written (no URL normalisation) and judges each answer against its expectation. */
import { request as httpRequest } from 'node:http';
import { Pool } from 'undici';
import type { Expectation, HostileCase } from './cases.js';

export interface Outcome {
  c: HostileCase;
  status: number;
  /** Why the answer is wrong; undefined when it is right. */
  wrong?: string;
  retryAfter?: string;
  ms: number;
}

export function judge(e: Expectation, status: number, body: any, headers: Record<string, unknown>): string | undefined {
  if (e.code === 0 ? !(status >= 400 && status < 500) : status !== e.code) return `HTTP ${status}, want ${e.code || '4xx'}`;
  if (status < 400) return e.check?.(body);
  if (body?.kind !== 'Status') return `not a Status body: ${JSON.stringify(body).slice(0, 120)}`;
  if (body.status !== 'Failure') return `Status.status ${body.status}`;
  if (body.code !== status) return `Status.code ${body.code} on HTTP ${status}`;
  if (!body.reason) return 'Status without a reason';
  if (e.reason && body.reason !== e.reason) return `reason ${body.reason}, want ${e.reason}`;
  if (e.field) {
    const fields = ((body.details?.causes ?? []) as { field?: string }[]).map((c) => c.field);
    if (!fields.includes(e.field)) return `no cause for ${e.field} (causes: ${JSON.stringify(fields.slice(0, 5))})`;
  }
  if (e.retryAfter && !headers['retry-after']) return 'no Retry-After header';
  return undefined;
}

const poolOrigins = new WeakMap<Pool, string>();

export function openPool(url: string, connections: number): Pool {
  const pool = new Pool(url, { connections, headersTimeout: 30_000, bodyTimeout: 30_000, pipelining: 1 });
  poolOrigins.set(pool, url);
  return pool;
}

/** Bodies this big may be answered (413) before they are sent in full. */
const EARLY_ANSWER_BYTES = 1024 * 1024;

/** How long an oversized upload waits for an early answer before it sends its body (curl's Expect wait). */
const EARLY_ANSWER_WAIT_MS = 2_000;

/**
 * A request whose answer may come before its body has been sent: the server refuses an
 * oversized body from its Content-Length and closes the connection, so an upload racing that
 * answer fails with EPIPE. Like curl with `Expect: 100-continue`, send the headers first and
 * give the server a moment to answer; only then send the body. The answer is what counts.
 */
function sendEarlyAnswered(origin: string, c: HostileCase): Promise<{ statusCode: number; headers: Record<string, unknown>; text: string }> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = httpRequest(
      new URL(c.path, origin),
      { method: c.method, headers: { ...c.headers, 'content-length': String(Buffer.byteLength(c.body!)) } },
      (res) => {
        answered = true;
        clearTimeout(upload);
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, text });
          req.destroy(); // the body was never sent: this connection cannot carry another request
        });
        res.on('error', reject);
      },
    );
    req.on('error', (err) => {
      if (answered) return;
      reject(err);
    });
    req.flushHeaders();
    const upload = setTimeout(() => req.end(c.body), EARLY_ANSWER_WAIT_MS);
  });
}

export async function send(
  pool: Pool,
  c: HostileCase,
  judgeWith: (c: HostileCase, status: number, body: any, headers: Record<string, unknown>) => string | undefined = (c, st, b, h) => judge(c.expect, st, b, h),
): Promise<Outcome> {
  const t0 = Date.now();
  try {
    const early = c.body !== undefined && Buffer.byteLength(c.body) > EARLY_ANSWER_BYTES;
    const res = early
      ? await sendEarlyAnswered(poolOrigins.get(pool)!, c).then((r) => ({ statusCode: r.statusCode, headers: r.headers, body: { text: async () => r.text } }))
      : await pool.request({ method: c.method as 'GET', path: c.path, headers: c.headers, body: c.body });
    const text = await res.body.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // judged as not a Status below
    }
    const retryAfter = res.headers['retry-after'] as string | undefined;
    return { c, status: res.statusCode, wrong: judgeWith(c, res.statusCode, body, res.headers), retryAfter, ms: Date.now() - t0 };
  } catch (err) {
    return { c, status: 0, wrong: `no answer: ${(err as Error).message}`, ms: Date.now() - t0 };
  }
}

/** Runs every case with at most `parallel` in flight. */
export async function sendAll(pool: Pool, cases: HostileCase[], parallel: number, judgeWith?: Parameters<typeof send>[2]): Promise<Outcome[]> {
  const out: Outcome[] = new Array(cases.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < cases.length) {
        const i = next++;
        out[i] = await send(pool, cases[i]!, judgeWith);
      }
    }),
  );
  return out;
}
