/**
 * The console: the sign-in page until there is a token, then the shell — navigation, sign-out
 * and the page the URL's fragment names (router.ts). The token lives in sessionStorage
 * (session.ts); a 401 from any request ends the session and comes back here with the server's
 * reason.
 */
import { useMemo, useState } from 'preact/hooks';
import { ApiClient } from './api/api-client.js';
import { ApiContext } from './api/api-context.js';
import { Operations } from './pages/operations.js';
import { Overview } from './pages/overview.js';
import { SignIn } from './pages/sign-in.js';
import { VmList } from './pages/vm-list.js';
import { VmPage } from './pages/vm-page.js';
import { links, useRoute, type Route } from './router.js';
import { session } from './session.js';

export function App() {
  const [token, setToken] = useState(session.token());
  const [notice, setNotice] = useState<string>();
  const api = useMemo(
    () =>
      token
        ? new ApiClient(token, (message) => {
            session.clear();
            setNotice(`Signed out: the API server refused the token (${message}).`);
            setToken(undefined);
          })
        : undefined,
    [token],
  );
  if (!api) {
    return (
      <SignIn
        notice={notice}
        onSignedIn={(t) => {
          session.save(t);
          setNotice(undefined);
          setToken(t);
        }}
      />
    );
  }
  const signOut = () => {
    session.clear();
    setNotice('Signed out.');
    setToken(undefined);
  };
  return (
    <ApiContext.Provider value={api}>
      <Shell onSignOut={signOut} />
    </ApiContext.Provider>
  );
}

function Shell({ onSignOut }: { onSignOut: () => void }) {
  const route = useRoute();
  const tab = (page: Route['page'][], href: string, label: string) => (
    <a href={href} class={page.includes(route.page) ? 'active' : ''} aria-current={page.includes(route.page) ? 'page' : undefined}>
      {label}
    </a>
  );
  return (
    <div class="shell">
      <header class="top">
        <span class="brand">Shoal</span>
        <nav>
          {tab(['overview'], links.overview(), 'Overview')}
          {tab(['vms', 'vm'], links.vms(), 'Virtual machines')}
          {tab(['operations'], links.operations(), 'Migrations & backups')}
        </nav>
        <button type="button" class="sign-out" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <main>
        <Page route={route} />
      </main>
    </div>
  );
}

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case 'overview':
      return <Overview />;
    case 'vms':
      return <VmList query={route.query} />;
    case 'vm':
      return <VmPage namespace={route.namespace} name={route.name} key={`${route.namespace}/${route.name}`} />;
    case 'operations':
      return <Operations query={route.query} />;
    case 'not-found':
      return (
        <p class="empty">
          No page at {route.path}. <a href={links.overview()}>Overview</a>
        </p>
      );
  }
}
