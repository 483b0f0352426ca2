/**
 * Sign-in: the user pastes a bearer token — one from the API server's --token-auth-file, such as
 * the admin token `shoal up` writes to .shoal/config.yaml. It is checked with a discovery request
 * (GET /apis/shoal.dev/v1alpha1, which every authenticated user may make) before it is kept, so
 * a mistyped token is told at once rather than on the first page.
 */
import { useState } from 'preact/hooks';
import { ApiClient, ApiRequestError } from '../api/api-client.js';
import { API_ROOT } from '../api/paths.js';

export function SignIn({ notice, onSignedIn }: { notice?: string; onSignedIn: (token: string) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const t = token.trim();
    if (!t) return setError('Paste a bearer token.');
    setBusy(true);
    setError(undefined);
    try {
      await new ApiClient(t).json('GET', API_ROOT);
      onSignedIn(t);
    } catch (err) {
      setBusy(false);
      setError(
        err instanceof ApiRequestError && err.code === 401
          ? 'The API server did not accept this token (401 Unauthorized).'
          : `Cannot sign in: ${(err as Error).message}`,
      );
    }
  };
  return (
    <main class="sign-in">
      <form class="sign-in-form" onSubmit={submit} aria-label="Sign in">
        <h1>Shoal</h1>
        <p>Sign in with a bearer token. Every request the console makes carries it, so you see and may do what the API server's RBAC allows you.</p>
        {notice ? (
          <p class="notice" role="status">
            {notice}
          </p>
        ) : null}
        <label>
          Token
          <input
            type="password"
            name="token"
            autocomplete="off"
            value={token}
            onInput={(e) => setToken((e.currentTarget as HTMLInputElement).value)}
            autofocus
          />
        </label>
        {error ? (
          <div class="error-note" role="alert">
            {error}
          </div>
        ) : null}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
