/**
 * Why a migration failed, as a reason a Migration's status can carry (Kubernetes-style: one
 * CamelCase word, then a sentence for people).
 *
 *   TargetUnreachable  nothing answered at the target's migration or NBD address
 *   TlsRejected        a TLS handshake failed: the target refused the source's certificate, or
 *                      the source did not trust the target's
 *   TargetFailed       the target went away or failed during the transfer (QEMU killed, crashed)
 *   SourceFailed       the source QEMU refused or failed a step (its QMP socket, a mirror job)
 *   Cancelled          the caller aborted (its AbortSignal); the source runs on
 *   TransferTimedOut   for the caller's deadline: this module has none of its own
 */
export type MigrationFailureReason = 'TargetUnreachable' | 'TlsRejected' | 'TargetFailed' | 'SourceFailed' | 'Cancelled' | 'TransferTimedOut';

export class MigrationError extends Error {
  constructor(
    readonly reason: MigrationFailureReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${reason}: ${message}`, options);
    this.name = 'MigrationError';
  }
}

/**
 * Sorts QEMU's words for a failed connection into a reason. QEMU reports what gnutls and the
 * socket layer said ("Connection refused", "Certificate does not match the hostname", "Cannot
 * write to TLS channel"…) as free text; there is no error class.
 *
 * A target that refuses the source's certificate is, from the source, often only a TLS channel
 * that breaks (with TLS 1.3 the client's handshake is done before the server checked its
 * certificate) — what a target killed mid-transfer looks like too. `bytesSent` (RAM QEMU had
 * counted as sent, socket buffers included) tells them apart: a refused channel breaks within
 * the first buffers (seen: 0 to a few hundred KiB on loopback), a lost target later. A target
 * that dies within its first REFUSED_CHANNEL_MAX_BYTES is then reported as TlsRejected.
 */
export const REFUSED_CHANNEL_MAX_BYTES = 8 * 1024 * 1024;

export function reasonFromQemuError(desc: string, bytesSent = 0): MigrationFailureReason {
  if (/certificate|handshake|x509|gnutls|authoriz|authz|not trusted|access denied/i.test(desc)) return 'TlsRejected';
  if (/connection refused|no route to host|network is unreachable|timed out|failed to connect|cannot assign|name or service not known/i.test(desc))
    return 'TargetUnreachable';
  if (/TLS channel/i.test(desc) && bytesSent < REFUSED_CHANNEL_MAX_BYTES) return 'TlsRejected';
  return 'TargetFailed';
}
