// The one place that talks to the Huddle API: the token, the anonymise switch and errors.

const TOKEN = 'huddle.token';
const ANON = 'huddle.anonymise';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN);
  },
  /** The token's claims (role, org, sub, exp); the server checks the signature. */
  get claims() {
    const token = this.token;
    if (!token) return null;
    try {
      const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      const claims = JSON.parse(atob(payload));
      return claims.exp * 1000 > Date.now() ? claims : null;
    } catch {
      return null;
    }
  },
  signIn(token) {
    sessionStorage.setItem(TOKEN, token);
  },
  signOut() {
    sessionStorage.removeItem(TOKEN);
  },
  get anonymise() {
    return sessionStorage.getItem(ANON) === '1';
  },
  set anonymise(on) {
    sessionStorage.setItem(ANON, on ? '1' : '0');
  },
};

/** Calls the API; resolves with the JSON body, rejects with an ApiError. */
export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let url = path;
  if (method === 'GET' && session.anonymise) {
    url += (url.includes('?') ? '&' : '?') + 'anonymise=true';
  }
  const response = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const data = text ? safeJson(text) : null;
  if (!response.ok) {
    const error = data && data.error ? data.error : {};
    if (response.status === 401 && path !== '/api/v1/auth/login') {
      session.signOut();
      location.hash = '#/signin';
    }
    throw new ApiError(
      response.status,
      error.code || 'http_error',
      error.message || `The server answered ${response.status}.`,
    );
  }
  return data;
}

function safeJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body);
export const patch = (path, body) => api('PATCH', path, body);
