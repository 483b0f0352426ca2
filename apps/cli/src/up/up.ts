/** `shoal up`: start the local cluster, apply the examples, say what to do next, stop on Ctrl-C. */
import { resolve } from 'node:path';
import { ShoalClient } from '@shoal/client';
import { LocalCluster } from './local-cluster.js';
import { applyExamples } from './apply-examples.js';
import { waitForVmsRunning } from './wait-for-vms.js';
import { writeClientConfigs } from './credentials.js';

export interface UpArgs {
  dataDir: string;
  port: number;
  etcdPort: number;
  etcdPeerPort?: number;
  bind: string;
  nodeName: string;
  controllerManagerPort: number;
  agentPort: number;
}

export async function up(args: UpArgs): Promise<void> {
  const progress = (line: string) => process.stderr.write(`shoal: ${line}\n`);
  const cluster = new LocalCluster({
    dataDir: resolve(args.dataDir),
    port: args.port,
    etcdPort: args.etcdPort,
    etcdPeerPort: args.etcdPeerPort ?? args.etcdPort + 1,
    bind: args.bind,
    nodeName: args.nodeName,
    controllerManagerPort: args.controllerManagerPort,
    agentPort: args.agentPort,
    progress,
  });
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    await cluster.stop();
    progress('stopped');
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  void cluster.failure.then((why) => {
    // Ctrl-C reaches the children too; their exit is then expected.
    if (stopping) return;
    progress(`${why}: stopping the cluster`);
    void stop(1);
  });

  let configs: { shoalConfig: string; kubeconfig: string };
  try {
    await cluster.start();
    configs = await writeClientConfigs(resolve(args.dataDir), cluster.serverUrl, cluster.credentials);
    progress(`admin credentials for shoalctl in ${configs.shoalConfig}, for kubectl in ${configs.kubeconfig}`);
    const client = new ShoalClient({ server: cluster.serverUrl, caFile: cluster.credentials.caFile, token: cluster.credentials.adminToken });
    const applied = await applyExamples(client, progress);
    await waitForVmsRunning(client, applied, progress);
  } catch (err) {
    progress(`start-up failed: ${(err as Error).message}`);
    await stop(1);
    return;
  }
  process.stdout.write(`
Shoal is running: API server at ${cluster.serverUrl} (etcd data in ${resolve(args.dataDir, 'etcd')}).

The API server takes only authenticated requests over HTTPS; shoalctl and kubectl use the admin
credentials written in ${resolve(args.dataDir)}. Consoles go through the API server
(RBAC: get virtualmachines/log): the node agent serves them only to the API server's certificate.

Metrics: the apiserver, the controller-manager (${cluster.controllerManagerUrl}/metrics), the agent
(${cluster.agentUrl}/metrics) and etcd export them; Prometheus reads them with the token and client
certificate written for it in ${cluster.credentials.dir} (prometheus.token, prometheus.crt): see
deploy/prometheus/prometheus.yml and the README's Monitoring section.

Web console: ${cluster.serverUrl}/ui/ — sign in with the admin token (\`token\` in
${configs.shoalConfig}). The browser does not know the cluster's CA (${cluster.credentials.caFile}):
trust it, or accept the certificate warning once.

Try:
  export SHOAL_CONFIG=${configs.shoalConfig}
  npx shoalctl get vms -o wide
  npx shoalctl logs hello
  npx shoalctl describe vm hello
  npx shoalctl get nodes
  kubectl --kubeconfig ${configs.kubeconfig} get vms

Press Ctrl-C to stop the cluster.
`);
}
