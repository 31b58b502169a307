/**
 * The one way the UI talks to bootherd: same-origin `/api/v1`, `Authorization: Bearer <token>` on every request.
 * The token lives in sessionStorage only (never a cookie, never localStorage, never a URL). A 401 anywhere drops
 * the token and sends the operator back to the login screen.
 */

const TOKEN_KEY = 'bootherd.token';
export const API = '/api/v1';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export function getToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setToken(token: string | null): void {
  try {
    if (token === null) sessionStorage.removeItem(TOKEN_KEY);
    else sessionStorage.setItem(TOKEN_KEY, token);
  } catch {
    // storage disabled: the session simply does not survive a reload
  }
}

let onUnauthorized: () => void = () => {};

/** Called by the app shell: what to do when any request comes back 401. */
export function setUnauthorizedHandler(fn: () => void): void {
  onUnauthorized = fn;
}

export function unauthorized(): void {
  setToken(null);
  onUnauthorized();
}

async function toError(res: Response): Promise<ApiError> {
  let code = `HTTP_${res.status}`;
  let message = res.statusText || `HTTP ${res.status}`;
  let field: string | undefined;
  try {
    const body = (await res.json()) as { error?: unknown; message?: unknown; field?: unknown };
    if (typeof body.error === 'string') code = body.error;
    if (typeof body.message === 'string') message = body.message;
    if (typeof body.field === 'string') field = body.field;
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(res.status, code, message, field);
}

/**
 * A request with the stored token, or with `explicitToken` (the login check, whose 401 is just "wrong token").
 * Resolves to undefined on 204.
 */
export async function request<T>(method: string, path: string, body?: unknown, explicitToken?: string): Promise<T> {
  const token = explicitToken ?? getToken();
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(API + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch (err) {
    throw new ApiError(0, 'NETWORK', `network error: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!res.ok) {
    const err = await toError(res);
    if (res.status === 401 && explicitToken === undefined) unauthorized();
    throw err;
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

export const get = <T>(path: string) => request<T>('GET', path);
export const post = <T>(path: string, body: unknown) => request<T>('POST', path, body);
export const put = <T>(path: string, body: unknown) => request<T>('PUT', path, body);
export const del = <T = void>(path: string) => request<T>('DELETE', path);

/** `?a=1&b=2` from the non-empty values, or ''. */
export function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

export const enc = encodeURIComponent;

export function errorText(err: unknown): string {
  if (err instanceof ApiError) return err.code.startsWith('HTTP_') ? err.message : `${err.message} (${err.code})`;
  return err instanceof Error ? err.message : String(err);
}
