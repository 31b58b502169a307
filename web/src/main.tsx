// bootherd web UI: the operator console for the network-boot server (fleet, machines, profiles, groups, leases,
// live boot events, discovered MACs). Preact single-page app with a hash router (#/machines/web1); it talks only
// to the same-origin REST API (/api/v1) with a Bearer token kept in sessionStorage, and to its live event stream.
// Built to static files with `npx vite build --config web/vite.config.ts` -> web/dist/ (served at / by bootherd).
// Air-gapped by design: no CDN, no web fonts, no external requests; every API value is rendered as text.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, errorText, getToken, request, setToken, setUnauthorizedHandler } from './api.ts';
import { Discovered } from './pages/Discovered.tsx';
import { Events } from './pages/Events.tsx';
import { Fleet } from './pages/Fleet.tsx';
import { Groups } from './pages/Groups.tsx';
import { Leases } from './pages/Leases.tsx';
import { Login } from './pages/Login.tsx';
import { Machine } from './pages/Machine.tsx';
import { Profiles } from './pages/Profiles.tsx';
import { onStreamState, type StreamState, startStream, stopStream, streamState } from './stream.ts';
import type { WhoAmI } from './types.ts';
import { AuthContext } from './ui.tsx';
import './style.css';

type Route =
  | { page: 'fleet' }
  | { page: 'machine'; id: string }
  | { page: 'profiles' }
  | { page: 'groups' }
  | { page: 'leases' }
  | { page: 'events' }
  | { page: 'discovered' }
  | { page: 'notfound'; path: string };

function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '').replace(/\?.*$/, '') || '/';
  const parts = path.split('/').filter(Boolean);
  if (parts.length === 0) return { page: 'fleet' };
  if (parts[0] === 'machines' && parts.length === 2) {
    try {
      return { page: 'machine', id: decodeURIComponent(parts[1] ?? '') };
    } catch {
      return { page: 'notfound', path };
    }
  }
  if (parts.length === 1) {
    switch (parts[0]) {
      case 'machines':
        return { page: 'fleet' };
      case 'profiles':
      case 'groups':
      case 'leases':
      case 'events':
      case 'discovered':
        return { page: parts[0] };
    }
  }
  return { page: 'notfound', path };
}

function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const on = () => {
      setRoute(parseRoute(location.hash));
      scrollTo(0, 0);
    };
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

const NAV: { href: string; label: string; page: Route['page']; testid: string }[] = [
  { href: '#/', label: 'Fleet', page: 'fleet', testid: 'nav-fleet' },
  { href: '#/events', label: 'Events', page: 'events', testid: 'nav-events' },
  { href: '#/discovered', label: 'Discovered', page: 'discovered', testid: 'nav-discovered' },
  { href: '#/profiles', label: 'Profiles', page: 'profiles', testid: 'nav-profiles' },
  { href: '#/groups', label: 'Groups', page: 'groups', testid: 'nav-groups' },
  { href: '#/leases', label: 'Leases', page: 'leases', testid: 'nav-leases' },
];

const STREAM_TEXT: Record<StreamState, string> = {
  connecting: 'connecting…',
  live: 'live',
  retrying: 'reconnecting…',
  off: 'offline',
};

function Shell({ who, onLogout }: { who: WhoAmI; onLogout: () => void }) {
  const route = useRoute();
  const [stream, setStream] = useState<StreamState>(streamState());
  useEffect(() => onStreamState(setStream), []);
  const active = route.page === 'machine' ? 'fleet' : route.page;
  const canWrite = who.scope === 'write' || who.scope === 'admin';

  let page: preact.JSX.Element;
  switch (route.page) {
    case 'fleet':
      page = <Fleet />;
      break;
    case 'machine':
      page = <Machine key={route.id} id={route.id} />;
      break;
    case 'profiles':
      page = <Profiles />;
      break;
    case 'groups':
      page = <Groups />;
      break;
    case 'leases':
      page = <Leases />;
      break;
    case 'events':
      page = <Events />;
      break;
    case 'discovered':
      page = <Discovered />;
      break;
    default:
      page = (
        <section>
          <h1>Not found</h1>
          <p>
            Nothing at <span class="mono">{route.path}</span>. <a href="#/">Back to the fleet</a>.
          </p>
        </section>
      );
  }

  return (
    <AuthContext.Provider value={{ who, canWrite }}>
      <header class="top">
        <a href="#/" class="brand">
          bootherd
        </a>
        <nav>
          {NAV.map((n) => (
            <a key={n.page} href={n.href} class={active === n.page ? 'active' : ''} data-testid={n.testid}>
              {n.label}
            </a>
          ))}
        </nav>
        <span class="spacer" />
        <span class={`live live-${stream}`} data-testid="stream-state" title="event stream">
          {STREAM_TEXT[stream]}
        </span>
        <span class="who" title="token name">
          {who.name}
        </span>
        <span class={`scope scope-${who.scope}`} data-testid="scope">
          {who.scope}
        </span>
        <button type="button" class="link" onClick={onLogout} data-testid="logout">
          Sign out
        </button>
      </header>
      <main>
        <InventoryFileBanner />
        {page}
      </main>
    </AuthContext.Provider>
  );
}

interface Status {
  inventoryFile?: { path: string; error?: string; appliedAt?: string };
}

/** A bad inventory file does not stop the server, but the operator must see that it was not applied, and why. */
function InventoryFileBanner() {
  const [status, setStatus] = useState<Status | null>(null);
  useEffect(() => {
    request<Status>('GET', '/status').then(setStatus, () => setStatus(null));
  }, []);
  const file = status?.inventoryFile;
  if (!file?.error) return null;
  return (
    <div class="banner error" data-testid="inventory-file-error">
      Inventory file <span class="mono">{file.path}</span> was not applied; serving what the store holds. {file.error}
    </div>
  );
}

function App() {
  const [who, setWho] = useState<WhoAmI | null>(null);
  const [checking, setChecking] = useState(() => getToken() !== null);
  const [notice, setNotice] = useState('');

  useEffect(() => {
    setUnauthorizedHandler(() => {
      stopStream();
      setWho(null);
      setChecking(false);
      setNotice('Your session ended (401): sign in again.');
    });
    const token = getToken();
    if (!token) return;
    request<WhoAmI>('GET', '/whoami', undefined, token).then(
      (w) => {
        setWho(w);
        setChecking(false);
      },
      (err) => {
        if (err instanceof ApiError && err.status === 401) setToken(null);
        else setNotice(errorText(err));
        setChecking(false);
      },
    );
  }, []);

  useEffect(() => {
    if (who) startStream();
    return () => stopStream();
  }, [who]);

  if (checking) return <div class="loading">Loading…</div>;
  if (!who)
    return (
      <Login
        notice={notice}
        onLogin={(w) => {
          setNotice('');
          setWho(w);
        }}
      />
    );
  return (
    <Shell
      who={who}
      onLogout={() => {
        setToken(null);
        stopStream();
        setWho(null);
      }}
    />
  );
}

const root = document.getElementById('app');
if (root) render(<App />, root);
