/**
 * The local cluster's credentials, under <data dir>/pki (keys and tokens readable by the owner only):
 *  - a CA (kept across restarts, so configs written earlier stay valid) and, signed by it and made
 *    afresh at every start (certificates.ts): the apiserver's serving certificate, for the
 *    addresses it serves on; each node agent's serving certificate (agent-<node>.crt), for the
 *    address its endpoint listens on; each node's migration certificate (migration-<node>.crt,
 *    server and client: its QEMUs receive and send live migrations with it); and the apiserver's client certificate for agents
 *    (apiserver-agent-client.crt, group system:shoal-apiservers), the only one the agents admit to
 *    consoles; and Prometheus's client certificate (prometheus.crt, CN prometheus, group
 *    system:monitoring), which the agents admit to /metrics alone;
 *  - a static token file for the apiserver (--token-auth-file): an admin token (group
 *    system:masters), one per controller of the controller-manager (user
 *    system:shoal:<controller>, bound by the bootstrap RBAC policy to only what that controller
 *    needs; also written one per file in controller-tokens/<controller>.token for the
 *    controller-manager's --controller-tokens-dir) and one per node agent (system:node:<name>,
 *    group system:nodes, authorized by the Node mode), and one for Prometheus (user prometheus,
 *    group system:monitoring: the bootstrap ClusterRole of that name lets it get /metrics, nothing
 *    else; also alone in prometheus.token, the file a scrape config names). Tokens are kept across restarts too. The
 *    single controller-manager token earlier versions wrote (system:shoal-controller-manager,
 *    every controller's rights at once) is no longer used, so it is dropped.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AGENT_CLIENT_GROUP, AGENT_CLIENT_USER, MONITORING_GROUP, MONITORING_USER } from '@shoal/api';
import { CONTROLLER_NAMES } from '@shoal/controller-manager';
import { ensureCa, issueCertificate, serverAddresses, type IssuedCertificate } from './certificates.js';

export const ADMIN_USER = 'shoal-admin';
/** The one identity earlier versions ran the controller-manager as; no longer issued. */
export const CONTROLLER_MANAGER_USER = 'system:shoal-controller-manager';
/** The controller-manager's controllers, each with its own token and user: every one it can run. */
export const CONTROLLERS: readonly string[] = CONTROLLER_NAMES;
export const controllerUser = (controller: string) => `system:shoal:${controller}`;
export const nodeUser = (node: string) => `system:node:${node}`;

export interface ClusterCredentials {
  dir: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  tokenFile: string;
  adminToken: string;
  /** Per controller, its token; also in <controllerTokensDir>/<controller>.token. */
  controllerTokens: Map<string, string>;
  controllerTokensDir: string;
  nodeTokens: Map<string, string>;
  /** Per node, its agent's serving certificate. */
  agentServingCertificates: Map<string, IssuedCertificate>;
  /** Per node, its certificate for live migrations (CN=system:node:<name>, server and client). */
  migrationCertificates: Map<string, IssuedCertificate>;
  /** What the apiserver shows agents (--agent-client-certificate, --agent-client-key). */
  agentClientCertificate: IssuedCertificate;
  /** Prometheus's credentials (group system:monitoring): a token for the apiserver (also in `tokenFile`), a client certificate for the agents. */
  monitoring: { token: string; tokenFile: string; certificate: IssuedCertificate };
}

interface TokenEntry {
  token: string;
  user: string;
  uid: string;
  groups: string[];
}

const csvField = (s: string) => (/[",\s]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

function parseTokens(text: string): TokenEntry[] {
  const out: TokenEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^([^,#\s]+),([^,]+),([^,]*)(?:,"?([^"]*)"?)?$/.exec(line.trim());
    if (m) out.push({ token: m[1]!, user: m[2]!, uid: m[3]!, groups: (m[4] ?? '').split(',').filter(Boolean) });
  }
  return out;
}

/**
 * Creates what is missing under <dataDir>/pki and returns where everything is. `bind` is the
 * apiserver's address, `agentBind` where the agents' endpoints listen.
 */
export async function ensureCredentials(dataDir: string, opts: { bind: string; agentBind: string; nodeNames: string[] }): Promise<ClusterCredentials> {
  const dir = join(dataDir, 'pki');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await ensureCa(dir);
  const apiserver = await issueCertificate(dir, { name: 'apiserver', commonName: 'shoal-apiserver', usage: { server: serverAddresses(opts.bind) } });
  const agentServingCertificates = new Map<string, IssuedCertificate>();
  for (const node of opts.nodeNames) {
    // CN names the node, as a kubelet's serving certificate does; the apiserver checks the address (SANs).
    const cert = await issueCertificate(dir, { name: `agent-${node}`, commonName: nodeUser(node), usage: { server: serverAddresses(opts.agentBind) } });
    agentServingCertificates.set(node, cert);
  }
  const migrationCertificates = new Map<string, IssuedCertificate>();
  for (const node of opts.nodeNames) {
    // Nothing but the CN in the subject: a migration target admits exactly CN=system:node:<source>.
    const cert = await issueCertificate(dir, {
      name: `migration-${node}`,
      commonName: nodeUser(node),
      usage: { server: serverAddresses(opts.agentBind), client: true },
    });
    migrationCertificates.set(node, cert);
  }
  const agentClientCertificate = await issueCertificate(dir, {
    name: 'apiserver-agent-client',
    commonName: AGENT_CLIENT_USER,
    organizations: [AGENT_CLIENT_GROUP],
    usage: 'client',
  });
  const monitoringCertificate = await issueCertificate(dir, {
    name: MONITORING_USER,
    commonName: MONITORING_USER,
    organizations: [MONITORING_GROUP],
    usage: 'client',
  });

  const tokenFile = join(dir, 'tokens.csv');
  const entries = (existsSync(tokenFile) ? parseTokens(await readFile(tokenFile, 'utf8')) : []).filter((e) => e.user !== CONTROLLER_MANAGER_USER);
  const tokenOf = (user: string, groups: string[]): string => {
    const found = entries.find((e) => e.user === user);
    if (found) return found.token;
    const token = randomBytes(32).toString('base64url');
    entries.push({ token, user, uid: user, groups });
    return token;
  };
  const adminToken = tokenOf(ADMIN_USER, ['system:masters']);
  const controllerTokens = new Map(CONTROLLERS.map((c) => [c, tokenOf(controllerUser(c), [])]));
  const nodeTokens = new Map(opts.nodeNames.map((n) => [n, tokenOf(nodeUser(n), ['system:nodes'])]));
  const monitoringToken = tokenOf(MONITORING_USER, [MONITORING_GROUP]);
  const csv = entries.map((e) => [e.token, csvField(e.user), csvField(e.uid), `"${e.groups.join(',')}"`].join(',')).join('\n');
  await writePrivateFile(tokenFile, `# token,user,uid,"groups" — the apiserver's --token-auth-file, written by shoal up\n${csv}\n`);
  const controllerTokensDir = join(dir, 'controller-tokens');
  await mkdir(controllerTokensDir, { recursive: true, mode: 0o700 });
  await chmod(controllerTokensDir, 0o700);
  for (const [controller, token] of controllerTokens) await writePrivateFile(join(controllerTokensDir, `${controller}.token`), `${token}\n`);
  const monitoringTokenFile = join(dir, `${MONITORING_USER}.token`);
  await writePrivateFile(monitoringTokenFile, `${monitoringToken}\n`);
  return {
    dir,
    caFile: join(dir, 'ca.crt'),
    certFile: apiserver.certFile,
    keyFile: apiserver.keyFile,
    tokenFile,
    adminToken,
    controllerTokens,
    controllerTokensDir,
    nodeTokens,
    agentServingCertificates,
    migrationCertificates,
    agentClientCertificate,
    monitoring: { token: monitoringToken, tokenFile: monitoringTokenFile, certificate: monitoringCertificate },
  };
}

/** A file only the owner can read (a token, a config with one); chmod too, for a file that was already there. */
async function writePrivateFile(path: string, text: string): Promise<void> {
  await writeFile(path, text, { mode: 0o600 });
  await chmod(path, 0o600);
}

/** A YAML file only the owner can read: component configs (`--config`) that carry a token, so it never shows in `ps`. */
export async function writePrivateYaml(path: string, fields: Record<string, string>): Promise<void> {
  const yaml = Object.entries(fields)
    .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
    .join('\n');
  await writePrivateFile(path, `${yaml}\n`);
}

/** shoalctl's config file (connection-settings.ts) and a kubeconfig for stock kubectl, both as the admin. */
export async function writeClientConfigs(dataDir: string, server: string, creds: ClusterCredentials): Promise<{ shoalConfig: string; kubeconfig: string }> {
  const shoalConfig = join(dataDir, 'config.yaml');
  await writePrivateYaml(shoalConfig, { server, certificateAuthority: creds.caFile, token: creds.adminToken });
  const kubeconfig = join(dataDir, 'kubeconfig');
  const doc = `apiVersion: v1
kind: Config
clusters:
- name: shoal-local
  cluster:
    server: ${JSON.stringify(server)}
    certificate-authority: ${JSON.stringify(creds.caFile)}
users:
- name: ${ADMIN_USER}
  user:
    token: ${JSON.stringify(creds.adminToken)}
contexts:
- name: shoal-local
  context:
    cluster: shoal-local
    user: ${ADMIN_USER}
    namespace: default
current-context: shoal-local
`;
  await writePrivateFile(kubeconfig, doc);
  return { shoalConfig, kubeconfig };
}
