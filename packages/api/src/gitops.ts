/** Names GitRepositories, GitSyncs, their controllers, the apiserver's webhook and shoalctl share. */

/**
 * Set to a timestamp to ask for a fetch (GitRepository) or a pass (GitSync) now: by a webhook call,
 * `shoalctl gitops reconcile`, or anyone with patch rights. The controller answers it in
 * status.lastHandledReconcileAt, so a caller can tell when its request was served.
 */
export const RECONCILE_REQUESTED_ANNOTATION = 'shoal.dev/reconcile-requested-at';

/** The field manager of every server-side apply a GitSync makes. */
export const GITOPS_FIELD_MANAGER = 'gitops';

/** Labels on every object a GitSync applied: which sync owns it (prune and drift look it up). */
export const GITSYNC_NAME_LABEL = 'gitops.shoal.dev/name';
export const GITSYNC_NAMESPACE_LABEL = 'gitops.shoal.dev/namespace';

/** The key of a webhook-token Secret that authenticates a GitRepository's webhook. */
export const WEBHOOK_TOKEN_KEY = 'token';

/** The apiserver path of a GitRepository's webhook (outside /apis: it has its own token, not a user's). */
export const gitRepositoryWebhookPath = (namespace: string, name: string) =>
  `/hooks/v1/namespaces/${encodeURIComponent(namespace)}/gitrepositories/${encodeURIComponent(name)}`;

/** The user a GitSync with spec.serviceAccountName applies as. */
export const serviceAccountUser = (namespace: string, name: string) => `system:serviceaccount:${namespace}:${name}`;
