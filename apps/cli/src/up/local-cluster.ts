/**
 * The all-in-one cluster `shoal up` runs on this machine: a local etcd member with its data under
 * the data dir, the apiserver, the controller-manager and one node agent running real microVMs —
 * the same binaries a multi-host install runs; only flags differ.
 * Components start in dependency order and stop in reverse.
 *
 * The apiserver serves HTTPS with a certificate from the cluster's own CA and authenticates every
 * request (credentials.ts): the agent gets its own token in a config file only the owner can
 * read, and each of the controller-manager's controllers its own (--controller-tokens-dir), so
 * each holds only its own role's rights; authorization is Node,RBAC. The agent's endpoint
 * (consoles, metrics) is HTTPS too, with a certificate from the same CA, and admits only the
 * apiserver's agent-client certificate: users read consoles through the apiserver, where RBAC
 * decides (`get virtualmachines/log`).
 *
 * Every component's /metrics is on a fixed port, so a scrape config can name it
 * (deploy/prometheus/prometheus.yml): the apiserver's --port, etcd's client port, the
 * controller-manager's 10257 and the agent's 10250 (kube-controller-manager's and the kubelet's),
 * both on 127.0.0.1. The apiserver admits the prometheus token (group system:monitoring, RBAC) and
 * the agent the prometheus client certificate (its --metrics-allowed-groups default).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeOptionsOf } from '@shoal/api';
import { SupervisedProcess } from './supervised-process.js';
import { ensureCredentials, writePrivateYaml, type ClusterCredentials } from './credentials.js';

export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/** node's arguments up to the command's own: the flags it runs with (NODE_OPTIONS of @shoal/api), then bin/<command>.js. */
function nodeArgs(command: string): string[] {
  return [...nodeOptionsOf(command), join(REPO_ROOT, `bin/${command}.js`)];
}

/** Where the agent's endpoint listens: the apiserver, on this machine, is its one client. */
const AGENT_BIND = '127.0.0.1';

export interface LocalClusterOptions {
  dataDir: string;
  port: number;
  etcdPort: number;
  etcdPeerPort: number;
  bind: string;
  nodeName: string;
  /** Where the controller-manager serves /metrics and health, on 127.0.0.1. */
  controllerManagerPort: number;
  /** Where the agent's HTTPS endpoint (consoles, /metrics) listens, on AGENT_BIND. */
  agentPort: number;
  /** Told about progress, one line at a time. */
  progress(line: string): void;
}

export class LocalCluster {
  private readonly started: SupervisedProcess[] = [];
  private failed?: (why: string) => void;
  readonly failure: Promise<string>;
  /** Set by start(). */
  credentials!: ClusterCredentials;

  constructor(readonly opts: LocalClusterOptions) {
    this.failure = new Promise((resolve) => (this.failed = resolve));
  }

  get serverUrl(): string {
    // A wildcard bind is reached on loopback; the certificate names 127.0.0.1 and ::1 either way.
    const host =
      this.opts.bind === '0.0.0.0' ? '127.0.0.1' : this.opts.bind === '::' ? '[::1]' : this.opts.bind.includes(':') ? `[${this.opts.bind}]` : this.opts.bind;
    return `https://${host}:${this.opts.port}`;
  }

  get etcdUrl(): string {
    return `http://127.0.0.1:${this.opts.etcdPort}`;
  }

  get controllerManagerUrl(): string {
    return `http://127.0.0.1:${this.opts.controllerManagerPort}`;
  }

  get agentUrl(): string {
    return `https://${AGENT_BIND}:${this.opts.agentPort}`;
  }

  async start(): Promise<void> {
    const { dataDir } = this.opts;
    const logs = join(dataDir, 'logs');
    await mkdir(logs, { recursive: true });
    this.opts.progress(`credentials in ${join(dataDir, 'pki')}`);
    const creds = (this.credentials = await ensureCredentials(dataDir, {
      bind: this.opts.bind,
      agentBind: AGENT_BIND,
      nodeNames: [this.opts.nodeName],
    }));
    const agentServing = creds.agentServingCertificates.get(this.opts.nodeName)!;
    const componentConfig = async (name: string, credential: { token: string } | { 'controller-tokens-dir': string }) => {
      const path = join(creds.dir, `${name}.yaml`);
      await writePrivateYaml(path, { ...credential, 'certificate-authority': creds.caFile });
      return path;
    };
    await this.launch({
      name: 'etcd',
      command: 'etcd',
      args: [
        '--name=shoal',
        `--data-dir=${join(dataDir, 'etcd')}`,
        `--listen-client-urls=${this.etcdUrl}`,
        `--advertise-client-urls=${this.etcdUrl}`,
        `--listen-peer-urls=http://127.0.0.1:${this.opts.etcdPeerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${this.opts.etcdPeerPort}`,
        `--initial-cluster=shoal=http://127.0.0.1:${this.opts.etcdPeerPort}`,
        '--logger=zap',
        '--log-level=warn',
      ],
      logFile: join(logs, 'etcd.log'),
      ready: async () => (await fetch(`${this.etcdUrl}/health`)).ok,
    });
    await this.launch({
      name: 'apiserver',
      command: process.execPath,
      args: [
        ...nodeArgs('shoal-apiserver'),
        '--etcd-servers',
        this.etcdUrl,
        '--port',
        String(this.opts.port),
        '--bind',
        this.opts.bind,
        '--tls-cert-file',
        creds.certFile,
        '--tls-private-key-file',
        creds.keyFile,
        '--client-ca-file',
        creds.caFile,
        '--token-auth-file',
        creds.tokenFile,
        '--authorization-mode',
        'Node,RBAC',
        '--agent-client-certificate',
        creds.agentClientCertificate.certFile,
        '--agent-client-key',
        creds.agentClientCertificate.keyFile,
        '--agent-certificate-authority',
        creds.caFile,
      ],
      logFile: join(logs, 'apiserver.log'),
      ready: /listening on/,
    });
    await this.launch({
      name: 'controller-manager',
      command: process.execPath,
      args: [
        ...nodeArgs('shoal-controller-manager'),
        '--server',
        this.serverUrl,
        '--port',
        String(this.opts.controllerManagerPort),
        '--config',
        await componentConfig('controller-manager', { 'controller-tokens-dir': creds.controllerTokensDir }),
        // What the gitops controllers fetch lives with the rest of this cluster's state.
        '--gitops-cache-dir',
        join(dataDir, 'gitops-cache'),
      ],
      logFile: join(logs, 'controller-manager.log'),
      ready: /ready on/,
    });
    await this.launch({
      name: 'agent',
      command: process.execPath,
      args: [
        ...nodeArgs('shoal-agent'),
        '--server',
        this.serverUrl,
        '--node-name',
        this.opts.nodeName,
        '--config',
        await componentConfig(`agent-${this.opts.nodeName}`, { token: creds.nodeTokens.get(this.opts.nodeName)! }),
        '--data-dir',
        join(dataDir, 'agent'),
        '--runtime',
        'qemu',
        '--bind',
        AGENT_BIND,
        '--port',
        String(this.opts.agentPort),
        '--tls-cert-file',
        agentServing.certFile,
        '--tls-private-key-file',
        agentServing.keyFile,
        '--client-ca-file',
        creds.caFile,
        '--migration-cert-file',
        creds.migrationCertificates.get(this.opts.nodeName)!.certFile,
        '--migration-key-file',
        creds.migrationCertificates.get(this.opts.nodeName)!.keyFile,
        '--migration-ca-file',
        creds.caFile,
        // The all-in-one cluster stops as a whole: its VMs go with it.
        '--stop-vms-on-exit',
      ],
      logFile: join(logs, 'agent.log'),
      ready: /ready on/,
    });
  }

  private async launch(spec: ConstructorParameters<typeof SupervisedProcess>[0]): Promise<void> {
    this.opts.progress(`starting ${spec.name} (log: ${spec.logFile})`);
    const proc = new SupervisedProcess({ cwd: REPO_ROOT, ...spec });
    this.started.push(proc);
    await proc.start((why) => this.failed?.(why));
    this.opts.progress(`${spec.name} ready`);
  }

  async stop(): Promise<void> {
    for (const proc of [...this.started].reverse()) {
      this.opts.progress(`stopping ${proc.spec.name}`);
      await proc.stop();
    }
  }
}
