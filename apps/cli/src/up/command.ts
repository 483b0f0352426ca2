/** yargs definition of `shoal up`; the handler loads lazily (STYLE.md §9). */
import type { CommandModule } from 'yargs';
import type { UpArgs } from './up.js';
import { portsError } from './ports.js';

export const upCommand: CommandModule<object, UpArgs> = {
  command: 'up',
  describe: 'Run a local cluster (etcd, apiserver, controllers, one node agent) on this machine until Ctrl-C',
  builder: (y) =>
    y
      .option('data-dir', { type: 'string', default: process.env.SHOAL_DATA_DIR ?? '.shoal', describe: 'Where etcd data and logs live' })
      .option('port', { type: 'number', default: 6443, describe: 'API server port' })
      .option('etcd-port', { type: 'number', default: 2479, describe: 'etcd client port' })
      .option('etcd-peer-port', { type: 'number', describe: 'etcd peer port (default: the client port + 1)' })
      .option('bind', { type: 'string', default: '127.0.0.1', describe: 'API server address' })
      .option('node-name', { type: 'string', default: 'local', describe: 'Name of the node this machine registers as' })
      .option('controller-manager-port', {
        type: 'number',
        default: 10257,
        describe: "Port of the controller-manager's /metrics and health on 127.0.0.1 (what deploy/prometheus/prometheus.yml scrapes)",
      })
      .option('agent-port', {
        type: 'number',
        default: 10250,
        describe: "Port of the node agent's HTTPS endpoint on 127.0.0.1: consoles, /metrics (what deploy/prometheus/prometheus.yml scrapes)",
      })
      .check((a) => {
        const error = portsError({
          port: a.port,
          'etcd-port': a['etcd-port'],
          'etcd-peer-port': a['etcd-peer-port'] ?? a['etcd-port'] + 1,
          'controller-manager-port': a['controller-manager-port'],
          'agent-port': a['agent-port'],
        });
        if (error) throw new Error(error);
        return true;
      }) as never,
  handler: (a) => import('./up.js').then((m) => m.up(a)),
};
