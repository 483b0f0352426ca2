/**
 * How the apiserver talks to node agents (for `virtualmachines/log` and the metrics API), as kube-apiserver talks to
 * kubelets with --kubelet-client-certificate, --kubelet-client-key and
 * --kubelet-certificate-authority: an agent whose address is https:// is verified against the
 * agent CA and shown the apiserver's own client certificate, which the agent admits by its CA and
 * group (AGENT_CLIENT_GROUP). An http:// agent is plain, as before.
 *
 * What can go wrong becomes a Status that says which side to fix: an agent that cannot be reached
 * is 503 (it may be restarting: try again); one that cannot be trusted, or that refuses the
 * apiserver's certificate, is 502 BadGateway, a configuration fault between the two that no retry
 * mends, never passed on as the user's own 401 or 403.
 */
import type { Agent, Dispatcher } from 'undici';
import { AGENT_CLIENT_GROUP, ApiError, type Node } from '@shoal/api';

export interface AgentTlsOptions {
  /** Client certificate and key (PEM) shown to https agents. */
  cert?: Buffer;
  key?: Buffer;
  /** CA (PEM) that signed the agents' serving certificates; the system's CAs when absent. */
  ca?: Buffer;
}

/** A request to an agent: undici's options, less the dispatcher, which is the pool's. */
export type AgentRequestOptions = Omit<Dispatcher.RequestOptions, 'origin' | 'path' | 'method' | 'dispatcher'> & { method?: Dispatcher.HttpMethod };

/**
 * One connection pool for every agent, with the apiserver's credentials when it has them. undici
 * is loaded, and the pool made, at the first request to an agent: most apiservers serve logs and
 * usage rarely, and undici's code is ~10 MiB of resident memory that they would carry for nothing.
 */
export class AgentConnections {
  private pool: Promise<{ agent: Agent; request: typeof import('undici').request }> | undefined;

  constructor(
    private readonly tls: AgentTlsOptions | undefined,
    private readonly connectTimeoutMs: number,
  ) {}

  async request(url: string | URL, options: AgentRequestOptions): Promise<Dispatcher.ResponseData> {
    const { agent, request } = await (this.pool ??= this.open());
    return request(url, { ...options, dispatcher: agent });
  }

  /** Closes the pool's connections, if it was ever made. */
  async close(): Promise<void> {
    await (await this.pool)?.agent.destroy();
  }

  private async open() {
    // undici is CommonJS: its module object is the default export under every loader (tsx's too).
    const { Agent, request } = (await import('undici')).default;
    const tls = this.tls;
    const agent = new Agent({
      connect: { timeout: this.connectTimeoutMs, ...(tls?.ca ? { ca: tls.ca } : {}), ...(tls?.cert ? { cert: tls.cert, key: tls.key } : {}) },
      keepAliveTimeout: 10_000,
    });
    return { agent, request };
  }
}

/** Where a node's agent is reached (Node.status.agentAddress), or a 503 saying why it cannot be. */
export function agentAddressOfNode(node: Node): string {
  const nodeName = node.metadata.name;
  const address = node.status?.agentAddress;
  if (!address)
    throw new ApiError(503, 'ServiceUnavailable', `node ${nodeName} has no agent address (status.agentAddress): its agent has not registered`, {
      retryAfterSeconds: 1,
    });
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    url = new URL('invalid:');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ApiError(503, 'ServiceUnavailable', `node ${nodeName} has an agent address that is not an http(s) URL: "${address}"`);
  }
  return address;
}

/** OpenSSL's verification failures and Node's name check: the agent's certificate is not one to trust. */
const UNTRUSTED = /^(CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED|SELF_SIGNED_CERT|INVALID_CA|INVALID_PURPOSE|HOSTNAME_MISMATCH|ERR_TLS_CERT_ALTNAME)/;
/** A TLS alert from the agent: it ended the handshake, usually over the certificate it was shown (or not). */
const ALERT = /^ERR_SSL_.*ALERT/;
/** The address speaks something other than TLS (a plain-HTTP agent behind an https:// address). */
const NOT_TLS = /^ERR_SSL_(WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|HTTP_REQUEST)/;

function codeOf(err: unknown): string {
  const e = err as { code?: unknown; cause?: { code?: unknown } };
  return String(typeof e?.code === 'string' ? e.code : typeof e?.cause?.code === 'string' ? e.cause.code : '');
}

/** The Status for a request to an agent that failed before any answer. */
export function connectionError(err: unknown, nodeName: string, address: string, tls: AgentTlsOptions | undefined): ApiError {
  const code = codeOf(err);
  const where = `the agent of node ${nodeName} at ${address}`;
  if (UNTRUSTED.test(code)) {
    const against = tls?.ca ? 'the CA of --agent-certificate-authority' : "the system's CAs (no --agent-certificate-authority is set)";
    return new ApiError(
      502,
      'BadGateway',
      `${where} presented a serving certificate the apiserver does not trust: ${describe(err)}; it is verified against ${against}`,
    );
  }
  if (ALERT.test(code)) {
    return new ApiError(502, 'BadGateway', `${where} refused the apiserver's TLS handshake: ${describe(err)}; ${clientCertificateAdvice(tls)}`);
  }
  // Under TLS 1.3 the client's handshake is over before the server has judged its certificate:
  // a server that refuses it just closes the connection, and the client reads nothing at all.
  if (code === 'UND_ERR_SOCKET' && address.startsWith('https:') && (err as { socket?: { bytesRead?: number } }).socket?.bytesRead === 0) {
    return new ApiError(
      502,
      'BadGateway',
      `${where} closed the connection without a word after the TLS handshake, which is how it refuses a client certificate: ${describe(err)}; ${clientCertificateAdvice(tls)}`,
    );
  }
  if (NOT_TLS.test(code)) return new ApiError(502, 'BadGateway', `${where} does not speak TLS: ${describe(err)}; its address should be http://`);
  return new ApiError(503, 'ServiceUnavailable', `cannot reach ${where}: ${describe(err)}`, { retryAfterSeconds: 1 });
}

/** The Status for an agent that answered 401 or 403: it did not admit the apiserver. */
export function refusedByAgent(statusCode: number, body: string, nodeName: string, address: string, tls: AgentTlsOptions | undefined): ApiError {
  let said = body.trim().slice(0, 500);
  try {
    const status = JSON.parse(body) as { message?: unknown };
    if (typeof status.message === 'string') said = status.message;
  } catch {
    // not a Status: quote what it said
  }
  return new ApiError(
    502,
    'BadGateway',
    `the agent of node ${nodeName} at ${address} refused the apiserver (HTTP ${statusCode}${said ? `: ${said}` : ''}); ${clientCertificateAdvice(tls)}`,
  );
}

function clientCertificateAdvice(tls: AgentTlsOptions | undefined): string {
  const which = tls?.cert ? 'this apiserver shows the one in --agent-client-certificate' : 'this apiserver has none (--agent-client-certificate)';
  return `agents admit only a client certificate signed by their --client-ca-file with O=${AGENT_CLIENT_GROUP}, and ${which}`;
}

/**
 * undici errors often say only "fetch failed"; the cause (ECONNREFUSED ...) is what helps. An
 * OpenSSL error's message is a line of its internals; its `reason` says it in words.
 */
export function describe(err: unknown): string {
  const e = err as Error & { code?: string; reason?: unknown; cause?: Error & { code?: string } };
  const parts = [typeof e?.reason === 'string' && e.code?.startsWith('ERR_SSL') ? e.reason : (e?.message ?? String(err))];
  if (e?.code && !parts[0]!.includes(e.code)) parts.push(e.code);
  if (e?.cause?.message) parts.push(e.cause.message);
  return parts.join(': ');
}
