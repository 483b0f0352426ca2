/**
 * Client certificates signed by --client-ca-file: CN is the user, each O a group (Kubernetes'
 * x509 authenticator). TLS does the verification: the server asks for a certificate, and
 * `socket.authorized` says whether the one presented chains to the client CA. A certificate
 * that does not is a failed authentication (401), not an anonymous request.
 */
import type { TLSSocket } from 'node:tls';
import type { UserInfo } from './user.js';

export type CertificateOutcome = { user: UserInfo } | { error: string } | undefined;

export function authenticateClientCertificate(socket: unknown): CertificateOutcome {
  const tls = socket as Partial<TLSSocket>;
  if (typeof tls.getPeerCertificate !== 'function') return undefined;
  const cert = tls.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return undefined;
  if (!tls.authorized) return { error: `client certificate not trusted: ${String(tls.authorizationError ?? 'unknown error')}` };
  const name = [cert.subject?.CN].flat()[0];
  if (!name) return { error: 'client certificate has no common name' };
  const groups = [cert.subject?.O ?? []].flat().filter((g): g is string => typeof g === 'string' && g !== '');
  return { user: { name, groups } };
}
