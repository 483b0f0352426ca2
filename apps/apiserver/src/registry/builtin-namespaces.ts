/** The namespaces every cluster has (BUILTIN_NAMESPACES), created at start when missing. */
import { ApiError, BUILTIN_NAMESPACES, type KindInfo } from '@shoal/api';
import type { ResourceService } from './resource-service.js';

/** Several apiservers may start at once: a namespace another one just created is fine. */
export async function ensureBuiltinNamespaces(service: ResourceService, namespaceKind: KindInfo): Promise<void> {
  for (const name of BUILTIN_NAMESPACES) {
    try {
      await service.create(namespaceKind, undefined, { metadata: { name } }, { fieldValidation: 'Strict', dryRun: false });
    } catch (err) {
      if (!(err instanceof ApiError && err.reason === 'AlreadyExists')) throw err;
    }
  }
}
