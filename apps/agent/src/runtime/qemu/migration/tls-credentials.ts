/**
 * TLS for migration and NBD, as QEMU wants it: a `tls-creds-x509` object that reads a directory
 * with fixed file names — ca-cert.pem always, then server-cert.pem + server-key.pem for the
 * listening side or client-cert.pem + client-key.pem for the connecting one — and, on the
 * target, an `authz-simple` object that lets in only the client certificate whose distinguished
 * name is given. verify-peer is on at both ends: the target checks that the source's certificate
 * comes from the cluster CA (and, with the authz, is the expected node's); the source checks the
 * target's against the CA and the hostname/IP it connects to.
 */
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { QmpSession } from './qmp-session.js';

export type TlsEndpoint = 'server' | 'client';

export interface PemFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** Copies PEM files into `dir` under the names QEMU looks for; answers `dir`. */
export async function writeQemuTlsDirectory(dir: string, endpoint: TlsEndpoint, files: PemFiles): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await copyFile(files.caFile, join(dir, 'ca-cert.pem'));
  await copyFile(files.certFile, join(dir, `${endpoint}-cert.pem`));
  await copyFile(files.keyFile, join(dir, `${endpoint}-key.pem`));
  return dir;
}

/** Adds a tls-creds-x509 object reading `dir`; answers its id. */
export async function addTlsCredentials(session: QmpSession, opts: { id: string; endpoint: TlsEndpoint; dir: string }): Promise<string> {
  await session.execute('object-add', { 'qom-type': 'tls-creds-x509', id: opts.id, endpoint: opts.endpoint, dir: opts.dir, 'verify-peer': true });
  return opts.id;
}

/**
 * Adds an authz-simple object that admits one identity: for x509, the client certificate's
 * distinguished name as gnutls prints it (RFC 4514, e.g. "O=shoal:nodes,CN=node-a" — last RDN
 * first); answers its id.
 */
export async function addClientAuthorization(session: QmpSession, opts: { id: string; distinguishedName: string }): Promise<string> {
  await session.execute('object-add', { 'qom-type': 'authz-simple', id: opts.id, identity: opts.distinguishedName });
  return opts.id;
}

/** Removes an object added by the functions above; one that is not there is no error. */
export async function removeObject(session: QmpSession, id: string): Promise<void> {
  await session.execute('object-del', { id }).catch(() => undefined);
}
