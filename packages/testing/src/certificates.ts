/**
 * A throwaway CA and a server certificate for 127.0.0.1, made with openssl, for TLS tests; client
 * and serving certificates signed by it (or by a CA of their own); the set a cluster's node agents
 * serve HTTPS with.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { AGENT_CLIENT_GROUP, AGENT_CLIENT_USER } from '@shoal/api';

export interface TestCertificates {
  dir: string;
  caFile: string;
  certFile: string;
  keyFile: string;
}

export async function makeServerCertificates(): Promise<TestCertificates> {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-tls-'));
  const f = (name: string) => join(dir, name);
  const run = (args: string[]) => execa('openssl', args, { cwd: dir });
  await run([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.crt'),
    '-days',
    '1',
    '-subj',
    '/CN=shoal-test-ca',
  ]);
  await run([
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    f('server.key'),
    '-out',
    f('server.csr'),
    '-subj',
    '/CN=shoal-apiserver',
  ]);
  await execa('sh', ['-c', `printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > ${f('san.ext')}`]);
  await run([
    'x509',
    '-req',
    '-in',
    f('server.csr'),
    '-CA',
    f('ca.crt'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-out',
    f('server.crt'),
    '-days',
    '1',
    '-extfile',
    f('san.ext'),
  ]);
  return { dir, caFile: f('ca.crt'), certFile: f('server.crt'), keyFile: f('server.key') };
}

export interface TestClientCertificate {
  certFile: string;
  keyFile: string;
  /** The CA that signed it: `certs.caFile`, or with `untrusted` a CA of its own. */
  caFile: string;
}

/**
 * A client certificate (extendedKeyUsage clientAuth) with CN=`name` and one O per group, signed
 * by the CA of `certs`, or with `untrusted` by a fresh CA of its own (which nothing trusts).
 * Files go in `certs.dir`, named after `name`.
 */
export async function makeClientCertificate(
  certs: TestCertificates,
  name: string,
  opts: { groups?: string[]; untrusted?: boolean } = {},
): Promise<TestClientCertificate> {
  const f = (n: string) => join(certs.dir, `${name.replace(/[^A-Za-z0-9_.-]/g, '_')}-${n}`);
  const run = (args: string[]) => execa('openssl', args, { cwd: certs.dir });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  let [ca, caKey] = [certs.caFile, join(certs.dir, 'ca.key')];
  if (opts.untrusted) {
    [ca, caKey] = [f('other-ca.crt'), f('other-ca.key')];
    await run(['req', '-x509', ...ec, '-keyout', caKey, '-out', ca, '-days', '1', '-subj', `/CN=other-ca-for-${name}`]);
  }
  const subject = `/CN=${name}${(opts.groups ?? []).map((g) => `/O=${g}`).join('')}`;
  await run(['req', ...ec, '-keyout', f('client.key'), '-out', f('client.csr'), '-subj', subject]);
  await writeFile(f('client.ext'), 'extendedKeyUsage=clientAuth\n');
  await run([
    'x509',
    '-req',
    '-in',
    f('client.csr'),
    '-CA',
    ca,
    '-CAkey',
    caKey,
    '-CAcreateserial',
    '-out',
    f('client.crt'),
    '-days',
    '1',
    '-extfile',
    f('client.ext'),
  ]);
  return { certFile: f('client.crt'), keyFile: f('client.key'), caFile: ca };
}

export interface TestServingCertificate {
  certFile: string;
  keyFile: string;
}

/**
 * A serving certificate (extendedKeyUsage serverAuth, and clientAuth with `alsoClient`) for
 * 127.0.0.1, localhost and any more `ips`, CN=`name`, signed by the CA of `certs`.
 */
export async function makeServingCertificate(
  certs: TestCertificates,
  name: string,
  ips: readonly string[] = [],
  opts: { alsoClient?: boolean } = {},
): Promise<TestServingCertificate> {
  const f = (n: string) => join(certs.dir, `${name.replace(/[^A-Za-z0-9_.-]/g, '_')}-${n}`);
  const run = (args: string[]) => execa('openssl', args, { cwd: certs.dir });
  await run([
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    f('serving.key'),
    '-out',
    f('serving.csr'),
    '-subj',
    `/CN=${name}`,
  ]);
  const altNames = ['IP:127.0.0.1', 'DNS:localhost', ...ips.map((ip) => `IP:${ip}`)].join(',');
  await writeFile(f('serving.ext'), `subjectAltName=${altNames}\nextendedKeyUsage=serverAuth${opts.alsoClient ? ',clientAuth' : ''}\n`);
  const signed = ['-CA', certs.caFile, '-CAkey', join(certs.dir, 'ca.key'), '-CAcreateserial'];
  await run(['x509', '-req', '-in', f('serving.csr'), ...signed, '-out', f('serving.crt'), '-days', '1', '-extfile', f('serving.ext')]);
  return { certFile: f('serving.crt'), keyFile: f('serving.key') };
}

/** What node agents serve HTTPS with, and what the apiserver shows them, all from one CA (as `shoal up` makes them). */
export interface AgentTlsCertificates {
  /** The CA (its `caFile`, its directory for more certificates). */
  certs: TestCertificates;
  /** Every agent's serving certificate (127.0.0.1 and the `agentIps` asked for). */
  serving: TestServingCertificate;
  /** The apiserver's client certificate for agents: CN system:shoal-apiserver, O system:shoal-apiservers. */
  apiserverClient: TestClientCertificate;
  /** Flags that make an apiserver call agents with its client certificate and verify theirs. */
  apiserverArgs: string[];
  /** Flags that make an agent serve HTTPS to the apiserver's certificate only. */
  agentArgs: string[];
}

/**
 * Agent TLS from the CA of `certs` (a fresh one when absent: its directory is the caller's to
 * remove); agents that listen elsewhere than on loopback name their addresses in `agentIps`.
 */
export async function makeAgentTlsCertificates(certs?: TestCertificates, agentIps: readonly string[] = []): Promise<AgentTlsCertificates> {
  const ca = certs ?? (await makeServerCertificates());
  const serving = await makeServingCertificate(ca, 'agent', agentIps);
  const apiserverClient = await makeClientCertificate(ca, AGENT_CLIENT_USER, { groups: [AGENT_CLIENT_GROUP] });
  return {
    certs: ca,
    serving,
    apiserverClient,
    apiserverArgs: [
      '--agent-client-certificate',
      apiserverClient.certFile,
      '--agent-client-key',
      apiserverClient.keyFile,
      '--agent-certificate-authority',
      ca.caFile,
    ],
    agentArgs: ['--tls-cert-file', serving.certFile, '--tls-private-key-file', serving.keyFile, '--client-ca-file', ca.caFile],
  };
}

/**
 * A node's certificate for live migrations, as `shoal up` makes them: CN=system:node:<node>
 * (nothing else in the subject: the target lets in exactly that name), serverAuth and clientAuth
 * (the node listens as a target and dials as a source), for 127.0.0.1 and `ips`, signed by the CA
 * of `certs`. Answers the flags an agent takes it with.
 */
export async function makeNodeMigrationCertificate(certs: TestCertificates, node: string, ips: readonly string[] = []): Promise<string[]> {
  const cert = await makeServingCertificate(certs, `system:node:${node}`, ips, { alsoClient: true });
  return ['--migration-cert-file', cert.certFile, '--migration-key-file', cert.keyFile, '--migration-ca-file', certs.caFile];
}

/** An apiserver as `shoal up` secures it: HTTPS with these certificates, bearer tokens from `tokenFile`, Node,RBAC authorization. */
export const securedApiserverArgs = (certs: TestCertificates, tokenFile: string): string[] => [
  '--tls-cert-file',
  certs.certFile,
  '--tls-private-key-file',
  certs.keyFile,
  '--token-auth-file',
  tokenFile,
  '--authorization-mode',
  'Node,RBAC',
];
