/**
 * The console's HTTP client: same-origin fetch with the signed-in user's bearer token on every
 * request, so the API server's RBAC decides what each user sees and may do. A refusal becomes an
 * ApiRequestError carrying the server's Status — its message is what the user is shown, as
 * shoalctl prints it — and a 401 also ends the session (onUnauthorized).
 */
import { withQuery } from './paths.js';

/** An answer other than 2xx, with the code, reason and message of the server's Status. */
export class ApiRequestError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiRequestError';
  }
}

/** A Kubernetes Status, as the server sends it for every failure (and in a watch's ERROR event). */
export interface StatusObject {
  kind?: string;
  code?: number;
  reason?: string;
  message?: string;
}

export function errorFromStatus(status: StatusObject, fallbackCode = 500): ApiRequestError {
  const code = status.code ?? fallbackCode;
  return new ApiRequestError(code, status.reason ?? 'Unknown', status.message || `the server answered ${code}`);
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /** The body's media type: application/json unless a patch says otherwise. */
  contentType?: string;
  accept?: string;
  signal?: AbortSignal;
}

export class ApiClient {
  constructor(
    private readonly token: string,
    /** Called with the server's message when it answers 401: the token is no longer good. */
    private readonly onUnauthorized: (message: string) => void = () => undefined,
  ) {}

  async json<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.send(method, path, opts);
    return (await res.json()) as T;
  }

  /** A GET whose body the caller reads as it arrives: a watch, a followed console. */
  stream(path: string, opts: RequestOptions = {}): Promise<Response> {
    return this.send('GET', path, opts);
  }

  private async send(method: string, path: string, opts: RequestOptions): Promise<Response> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}`, accept: opts.accept ?? 'application/json' };
    if (opts.body !== undefined) headers['content-type'] = opts.contentType ?? 'application/json';
    const res = await fetch(withQuery(path, opts.query), {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal: opts.signal,
      cache: 'no-store',
    });
    if (res.ok) return res;
    const err = await errorOf(res);
    if (res.status === 401) this.onUnauthorized(err.message);
    throw err;
  }
}

async function errorOf(res: Response): Promise<ApiRequestError> {
  const text = await res.text().catch(() => '');
  try {
    const status = JSON.parse(text) as StatusObject;
    if (status && typeof status.message === 'string') return errorFromStatus(status, res.status);
  } catch {
    // Not a Status: a proxy's page, or nothing.
  }
  return new ApiRequestError(res.status, res.statusText || 'Unknown', `${res.status} ${res.statusText}${text ? `: ${text.slice(0, 200)}` : ''}`);
}
