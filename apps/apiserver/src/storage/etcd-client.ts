/** The one etcd connection an apiserver holds, with TLS when configured. */
import { readFileSync } from 'node:fs';
import { Etcd3, type IOptions } from 'etcd3';

export interface EtcdConnectionOptions {
  servers: string[];
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

/** Large enough for a page of big objects; pages are bounded by count so this is rarely approached. */
const MAX_GRPC_MESSAGE = 64 * 1024 * 1024;

export function connectEtcd(opts: EtcdConnectionOptions): Etcd3 {
  const options: IOptions = {
    hosts: opts.servers,
    dialTimeout: 5_000,
    grpcOptions: {
      'grpc.max_receive_message_length': MAX_GRPC_MESSAGE,
      'grpc.max_send_message_length': MAX_GRPC_MESSAGE,
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
    },
  };
  if (opts.caFile) {
    options.credentials = {
      rootCertificate: readFileSync(opts.caFile),
      ...(opts.certFile ? { certChain: readFileSync(opts.certFile) } : {}),
      ...(opts.keyFile ? { privateKey: readFileSync(opts.keyFile) } : {}),
    };
  }
  return new Etcd3(options);
}
