/** The apiserver's etcd connection, with TLS when configured. */
import { readFileSync } from 'node:fs';
import { Etcd3, type IOptions } from 'etcd3';
import { EtcdKv } from './etcd-kv.js';

export interface EtcdConnectionOptions {
  servers: string[];
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

/** Large enough for a page of big objects; pages are bounded by count so this is rarely approached. */
const MAX_GRPC_MESSAGE = 64 * 1024 * 1024;

/**
 * The etcd3 client with the options the apiserver used before it moved to EtcdKv. The apiserver
 * itself no longer uses it; bench/run.ts measures its raw-etcd baseline with it.
 */
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

/** Every read, write and watch of the apiserver goes through this (see etcd-kv.ts). */
export function connectEtcdKv(opts: EtcdConnectionOptions): EtcdKv {
  return new EtcdKv({
    servers: opts.servers,
    dialTimeoutMs: 5_000,
    maxMessageBytes: MAX_GRPC_MESSAGE,
    keepaliveMs: 10_000,
    keepaliveTimeoutMs: 5_000,
    ...(opts.caFile
      ? {
          tls: {
            ca: readFileSync(opts.caFile),
            ...(opts.certFile ? { cert: readFileSync(opts.certFile) } : {}),
            ...(opts.keyFile ? { key: readFileSync(opts.keyFile) } : {}),
          },
        }
      : {}),
  });
}
