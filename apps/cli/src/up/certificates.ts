/**
 * The local cluster's X.509 certificates, made with the openssl command line: Node's crypto can
 * make keys but not certificates, and openssl is on every Debian system (deploy/install-deps.sh
 * checks), so no npm dependency is needed for this. One CA signs everything; each certificate
 * says what it is for (extendedKeyUsage), so TLS itself refuses a serving certificate used as a
 * client certificate and the other way round.
 */
import { existsSync } from 'node:fs';
import { chmod, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';

export interface IssuedCertificate {
  certFile: string;
  keyFile: string;
}

export interface CertificateRequest {
  /** File names: NAME.crt, NAME.key in the CA's directory. */
  name: string;
  /** CN, the user a client certificate authenticates as. */
  commonName: string;
  /** O entries, the groups of a client certificate. */
  organizations?: string[];
  /** serverAuth with these subjectAltNames (and clientAuth too with `client`: a node's migration certificate), or clientAuth. */
  usage: { server: { ips: string[]; dns: string[] }; client?: boolean } | 'client';
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await execa('openssl', args, { cwd, stdin: 'ignore' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      throw new Error("openssl is not installed: it makes the local cluster's certificates (apt-get install openssl, or run deploy/install-deps.sh)");
    throw new Error(`openssl ${args[0]} failed: ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`);
  }
}

/** Addresses a serving certificate names: loopback always, the bind address, every local address for 0.0.0.0 / ::. */
export function serverAddresses(bind: string): { ips: string[]; dns: string[] } {
  const ips = new Set(['127.0.0.1', '::1']);
  const dns = new Set(['localhost']);
  if (bind === '0.0.0.0' || bind === '::') {
    for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (!a.address.includes('%')) ips.add(a.address);
  } else if (isIP(bind)) ips.add(bind);
  else dns.add(bind);
  return { ips: [...ips], dns: [...dns] };
}

/** ca.crt and ca.key in `dir`, made once and kept, so configs written earlier stay valid. */
export async function ensureCa(dir: string): Promise<void> {
  if (existsSync(join(dir, 'ca.crt')) && existsSync(join(dir, 'ca.key'))) return;
  await openssl(
    [
      'req',
      '-x509',
      ...EC_KEY,
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '3650',
      '-subj',
      '/CN=shoal-local-ca',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  await chmod(join(dir, 'ca.key'), 0o600);
}

/** A certificate signed by the CA in `dir`, made afresh (its key readable by the owner only). */
export async function issueCertificate(dir: string, req: CertificateRequest): Promise<IssuedCertificate> {
  const { name } = req;
  const extensions =
    req.usage === 'client'
      ? ['extendedKeyUsage=clientAuth']
      : [
          `subjectAltName=${[...req.usage.server.ips.map((ip) => `IP:${ip}`), ...req.usage.server.dns.map((d) => `DNS:${d}`)].join(',')}`,
          `extendedKeyUsage=serverAuth${req.usage.client ? ',clientAuth' : ''}`,
        ];
  await writeFile(join(dir, `${name}.ext`), `${[...extensions, 'keyUsage=critical,digitalSignature,keyEncipherment'].join('\n')}\n`);
  const subject = `/CN=${req.commonName}${(req.organizations ?? []).map((o) => `/O=${o}`).join('')}`;
  await openssl(['req', ...EC_KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject], dir);
  await chmod(join(dir, `${name}.key`), 0o600);
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '365',
      '-extfile',
      `${name}.ext`,
    ],
    dir,
  );
  return { certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) };
}
