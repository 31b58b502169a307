/** The login screen: one API token, checked with GET /whoami before it is kept (sessionStorage only). */
import { useState } from 'preact/hooks';
import { ApiError, errorText, request, setToken } from '../api.ts';
import type { WhoAmI } from '../types.ts';

export function Login({ onLogin, notice }: { onLogin: (who: WhoAmI) => void; notice?: string }) {
  const [token, setTokenInput] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  async function submit(e: Event) {
    e.preventDefault();
    const t = token.trim().replace(/^Bearer\s+/i, '');
    if (!t) {
      setError('Enter an API token.');
      return;
    }
    setBusy(true);
    setError('');
    try {
      const who = await request<WhoAmI>('GET', '/whoami', undefined, t);
      setToken(t);
      setTokenInput('');
      onLogin(who);
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'That token is not valid.' : errorText(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div class="login">
      <form class="login-box" onSubmit={submit}>
        <h1>bootherd</h1>
        {notice && <div class="banner">{notice}</div>}
        <label class="field">
          <span class="field-label">API token</span>
          <input
            type="password"
            value={token}
            onInput={(e) => setTokenInput(e.currentTarget.value)}
            data-testid="login-token"
            autocomplete="off"
            spellcheck={false}
            // biome-ignore lint/a11y/noAutofocus: the only input on the page
            autoFocus
          />
        </label>
        {error && (
          <div class="banner error" role="alert" data-testid="login-error">
            {error}
          </div>
        )}
        <button type="submit" class="primary" disabled={busy} data-testid="login-submit">
          Sign in
        </button>
        <p class="muted small">The token is kept in this tab only and sent as a Bearer header.</p>
      </form>
    </div>
  );
}
