/**
 * Who may use the agent's endpoint when it serves HTTPS (--tls-cert-file, --client-ca-file), as
 * the kubelet's authenticated endpoint: consoles (`/logs/...`) and `/metrics` only for a client
 * certificate signed by the client CA whose subject is in an allowed group (by default
 * AGENT_CLIENT_GROUP: the apiserver's agent-client certificate). `/metrics` also admits the
 * metrics groups (--metrics-allowed-groups, by default MONITORING_GROUP: a Prometheus), which
 * read no console. Users never come here: they read consoles through the apiserver's
 * `virtualmachines/log` subresource, which RBAC governs, and the apiserver relays with its own
 * certificate.
 *
 * The TLS server asks for a certificate but completes the handshake without one
 * (rejectUnauthorized: false) so that `/healthz` and `/readyz` stay open: they say only whether
 * the agent is up and synced, nothing a console or metric would give away, and service managers
 * and load balancers probe them without credentials. The kubelet keeps its healthz on a separate
 * plain port (10248) for the same reason; one port is simpler to run and firewall, and the
 * answer per path is the same. Everything else is refused here, per request: 401 without a
 * certificate or with one the CA did not sign, 403 with a trusted one outside the allowed groups
 * (a node's own client certificate from the same CA).
 */
import type { TLSSocket } from 'node:tls';
import { ApiError } from '@shoal/api';

/** Paths anyone may ask for: liveness and readiness, which carry no secret. */
export const OPEN_PATHS: readonly string[] = ['/healthz', '/readyz'];
/** The path the metrics groups may read too. */
export const METRICS_PATH = '/metrics';

export interface ClientCertificateRules {
  /** A certificate is admitted everywhere when its subject has one of these as an O. */
  allowedGroups: readonly string[];
  /** ... and to /metrics alone when it has one of these. */
  metricsAllowedGroups: readonly string[];
}

/** The groups admitted to `path`. */
export function groupsFor(path: string, rules: ClientCertificateRules): readonly string[] {
  return path === METRICS_PATH ? [...rules.allowedGroups, ...rules.metricsAllowedGroups.filter((g) => !rules.allowedGroups.includes(g))] : rules.allowedGroups;
}

interface ClientIdentity {
  name: string;
  groups: string[];
}

/** Why a request may not go on, or undefined when it may. `socket` is the request's TLS socket. */
export function refusal(socket: unknown, path: string, rules: ClientCertificateRules): ApiError | undefined {
  if (OPEN_PATHS.includes(path)) return undefined;
  const tls = socket as Partial<TLSSocket>;
  const cert = typeof tls.getPeerCertificate === 'function' ? tls.getPeerCertificate() : undefined;
  if (!cert || Object.keys(cert).length === 0)
    return new ApiError(401, 'Unauthorized', `a client certificate is required for ${path}: consoles are read through the apiserver (shoalctl logs)`);
  if (!tls.authorized) return new ApiError(401, 'Unauthorized', `client certificate not trusted: ${String(tls.authorizationError ?? 'unknown error')}`);
  const who: ClientIdentity = {
    name: [cert.subject?.CN].flat()[0] ?? '',
    groups: [cert.subject?.O ?? []].flat().filter((g): g is string => typeof g === 'string' && g !== ''),
  };
  const allowed = groupsFor(path, rules);
  if (who.groups.some((g) => allowed.includes(g))) return undefined;
  return new ApiError(
    403,
    'Forbidden',
    `forbidden: User "${who.name}" cannot get path "${path}": only clients in group ${allowed.map((g) => `"${g}"`).join(' or ')} may`,
  );
}
