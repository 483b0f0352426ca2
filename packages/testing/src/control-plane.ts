/** A real etcd member and a real apiserver process on free ports: the base of most integration tests. */
import { startEtcd, type EtcdMember } from './etcd.js';
import { freePort } from './free-port.js';
import { startApiserver, type ApiserverProcess } from './process.js';

export interface ControlPlane {
  etcd: EtcdMember;
  apiserver: ApiserverProcess;
  url: string;
  stop(): Promise<void>;
}

export async function startControlPlane(opts: { apiserverArgs?: string[] } = {}): Promise<ControlPlane> {
  const etcd = await startEtcd();
  try {
    const apiserver = await startApiserver({ etcd: etcd.endpoint, port: await freePort(), args: opts.apiserverArgs });
    return {
      etcd,
      apiserver,
      url: apiserver.url,
      async stop() {
        await apiserver.stop();
        await etcd.stop();
      },
    };
  } catch (err) {
    await etcd.stop();
    throw err;
  }
}
