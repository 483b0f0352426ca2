/**
 * The audit log's hash chain, shared by the apiserver (which writes it) and `shoalctl audit
 * verify` (which checks it). The log is JSON lines; each entry carries `prev`, the hash of the
 * entry before it (GENESIS_HASH for the first), and `hash`, the SHA-256 of the entry's
 * canonical JSON without `hash` (so `prev` is covered). Editing an entry breaks its own hash;
 * removing, inserting or reordering entries breaks the next entry's `prev`.
 *
 * Canonical JSON: object keys sorted by UTF-16 code unit, no whitespace, undefined members
 * left out, strings and numbers as JSON.stringify writes them. The line itself may have any
 * key order; only the canonical form is hashed.
 */
import { createHash } from 'node:crypto';

/** One line of the audit log: what was asked, by whom, and what came of it. */
export interface AuditEvent {
  /** RFC 3339 with milliseconds, UTC. */
  time: string;
  requestID: string;
  /** Who sent the request, as authenticated. */
  user: string;
  groups: string[];
  /**
   * Who the request acted as when it impersonated someone (Impersonate-User and the rest): the
   * user it was authorized and written as. Named and shaped as in Kubernetes' audit events.
   */
  impersonatedUser?: AuditImpersonatedUser;
  verb: string;
  apiGroup: string;
  apiVersion: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  /** The request asked not to store anything (dryRun=All). */
  dryRun: boolean;
  /** HTTP status of the response. */
  code: number;
  /** The Status reason of a failed request (NotFound, Forbidden, ...). */
  reason?: string;
  uid?: string;
  resourceVersion?: string;
  sourceIP: string;
  userAgent?: string;
}

export interface AuditImpersonatedUser {
  username: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

/** A line as stored: the event chained to the one before it. */
export interface AuditEntry extends AuditEvent {
  prev: string;
  hash: string;
}

/** `prev` of the first entry of a log. */
export const GENESIS_HASH = '0'.repeat(64);

const HASH = /^[0-9a-f]{64}$/;

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const members: string[] = [];
  for (const key of Object.keys(obj).sort()) {
    if (obj[key] === undefined) continue;
    members.push(`${JSON.stringify(key)}:${canonicalJson(obj[key])}`);
  }
  return `{${members.join(',')}}`;
}

/** The hash an entry must carry: SHA-256 (hex) over its canonical JSON without `hash`. */
export function auditEntryHash(entry: Record<string, unknown>): string {
  const { hash: _hash, ...rest } = entry;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex');
}

export interface ChainProblem {
  /** 1-based line number in the file. */
  line: number;
  message: string;
}

export interface ChainVerdict {
  /** Lines read (an entry each, when the chain is intact). */
  entries: number;
  /** In line order; empty when the chain is intact. */
  problems: ChainProblem[];
}

/**
 * Checks a whole log: every line parses as an object with a hash, every hash recomputes, and
 * every prev is the previous line's hash. After a broken line the check goes on from the hash
 * that line carries, so one edit is reported once and later damage is still found.
 */
export function verifyAuditChain(text: string): ChainVerdict {
  const lines = text.split('\n');
  // A log ends with a newline: that leaves one empty string, not an empty line.
  if (lines[lines.length - 1] === '') lines.pop();
  const problems: ChainProblem[] = [];
  let prevHash = GENESIS_HASH;
  lines.forEach((raw, i) => {
    const line = i + 1;
    const problem = (message: string) => problems.push({ line, message });
    if (raw.trim() === '') return void problem('empty line (a line was blanked, or lines were joined wrongly)');
    let entry: unknown;
    try {
      entry = JSON.parse(raw);
    } catch (err) {
      return void problem(`not valid JSON (${(err as Error).message}) (truncated or edited?)`);
    }
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) return void problem('not a JSON object (edited?)');
    const e = entry as Record<string, unknown>;
    if (typeof e.hash !== 'string' || !HASH.test(e.hash)) return void problem('has no hash (a 64-digit hex "hash" field) (edited?)');
    const expectedPrev = prevHash;
    prevHash = e.hash;
    if (auditEntryHash(e) !== e.hash) return void problem('hash does not match its content (edited?)');
    if (e.prev !== expectedPrev)
      problem(
        line === 1
          ? 'prev is not the genesis value (lines removed from the start?)'
          : `prev does not match line ${line - 1}'s hash (line removed or reordered?)`,
      );
  });
  return { entries: lines.length, problems };
}
