/**
 * The one etcd connection an apiserver holds, with TLS when configured, and with the failure
 * handling a multi-member cluster needs:
 *
 * - every unary call has a deadline, so a request never hangs on a cluster without quorum;
 * - every unary call asks the member to refuse at once when it has no leader (etcd's
 *   `hasleader` metadata, what the Go client's WithRequireLeader sends): without it a member
 *   cut off from its peers queues the request until the deadline, and says nothing useful;
 * - a call that never took effect (no connection, no leader) is sent again to the next member;
 *   one that may have (a timeout) is not: etcd-retry.ts and etcd-errors.ts;
 * - a member that refuses connections is skipped for a while (a circuit breaker per member),
 *   but a member that answers "no leader" is not: its answer is the most useful error there is.
 *
 * Watches are streams and get neither deadline nor `hasleader`: a watch on a member that lost
 * its leader stays open and carries on when the quorum is back, instead of being cancelled
 * and rebuilt (which would make every client watch relist).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as Grpc from '@grpc/grpc-js';
import type * as Cockatiel from 'cockatiel';
import { Etcd3, type IOptions } from 'etcd3';
import { isUnreachable } from './etcd-errors.js';
import { MemberRetry } from './etcd-retry.js';

// The gRPC and policy libraries etcd3 itself loaded: interceptors and policies are handed to
// its channels and its pool, so they must come from the very same copies.
const fromEtcd3 = createRequire(createRequire(import.meta.url).resolve('etcd3'));
const grpc = fromEtcd3('@grpc/grpc-js') as typeof Grpc;
const { circuitBreaker, handleWhen, ConsecutiveBreaker, ExponentialBackoff } = fromEtcd3('cockatiel') as typeof Cockatiel;

export interface EtcdConnectionOptions {
  servers: string[];
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** Deadline of every unary etcd call (not of watches). */
  requestTimeoutMs?: number;
}

export const DEFAULT_ETCD_REQUEST_TIMEOUT_MS = 5_000;

/** Large enough for a page of big objects; pages are bounded by count so this is rarely approached. */
const MAX_GRPC_MESSAGE = 64 * 1024 * 1024;

const requireLeader: Grpc.Interceptor = (options, nextCall) =>
  new grpc.InterceptingCall(nextCall(options), {
    start(metadata, listener, next) {
      metadata.set('hasleader', 'true');
      next(metadata, listener);
    },
  });

export function connectEtcd(opts: EtcdConnectionOptions): Etcd3 {
  const timeoutMs = opts.requestTimeoutMs ?? DEFAULT_ETCD_REQUEST_TIMEOUT_MS;
  const options: IOptions = {
    hosts: opts.servers,
    dialTimeout: 5_000,
    grpcOptions: {
      'grpc.max_receive_message_length': MAX_GRPC_MESSAGE,
      'grpc.max_send_message_length': MAX_GRPC_MESSAGE,
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
    },
    defaultCallOptions: (context) => (context.isStream ? {} : ({ deadline: Date.now() + timeoutMs, interceptors: [requireLeader] } as Grpc.CallOptions)),
    faultHandling: {
      host: () => circuitBreaker(handleWhen(isUnreachable), { halfOpenAfter: 1_000, breaker: new ConsecutiveBreaker(3) }),
      global: new MemberRetry(opts.servers.length).asPolicy(),
      // The watch cache's stream reconnects quickly after an outage, not after etcd3's default 30 s
      // cap. etcd3 wants a backoff factory here (its own default is one) though its type says IBackoff.
      watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 2_000 }) as unknown as Cockatiel.IBackoff<unknown>,
    },
  };
  // Any of the three turns TLS on. Without a CA file etcd is verified by the default trust store
  // (grpc-js reads null as that): a client certificate is presented all the same.
  if (opts.caFile || opts.certFile || opts.keyFile) {
    options.credentials = {
      rootCertificate: (opts.caFile ? readFileSync(opts.caFile) : null) as Buffer,
      ...(opts.certFile ? { certChain: readFileSync(opts.certFile) } : {}),
      ...(opts.keyFile ? { privateKey: readFileSync(opts.keyFile) } : {}),
    };
  }
  return new Etcd3(options);
}
