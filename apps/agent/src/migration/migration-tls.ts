/**
 * The node's certificate for migrations, as QEMU reads it: one certificate from the cluster CA
 * (serverAuth and clientAuth, CN=system:node:<node>) in two directories of QEMU's layout, one
 * for listening (target) and one for dialling (source). A target lets in only the source node's
 * certificate (its distinguished name), so agents reach each other only with what the control
 * plane issued.
 */
import { join } from 'node:path';
import { writeQemuTlsDirectory, type PemFiles } from '../runtime/qemu/migration/index.js';

export interface MigrationTls {
  serverDir: string;
  clientDir: string;
}

/** The distinguished name (gnutls's form) of a node's migration certificate. */
export const nodeCertificateDn = (node: string) => `CN=system:node:${node}`;

export async function prepareMigrationTls(dataDir: string, files: PemFiles): Promise<MigrationTls> {
  const root = join(dataDir, 'migration-tls');
  return {
    serverDir: await writeQemuTlsDirectory(join(root, 'server'), 'server', files),
    clientDir: await writeQemuTlsDirectory(join(root, 'client'), 'client', files),
  };
}
