// The API client: same origin only, with the bearer token of this tab's
// session when the server asked for one.

const TOKEN_KEY = 'loupe.token';

export class APIError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// message finds the error text in the envelopes of the three APIs:
// Prometheus {"error": "..."}, Jaeger {"errors": [{"msg": "..."}]} and the
// logs API {"error": {"message": "..."}}.
function message(body, text, status) {
  if (body && typeof body === 'object') {
    if (typeof body.error === 'string') return body.error;
    if (body.error && typeof body.error.message === 'string') return body.error.message;
    if (Array.isArray(body.errors) && body.errors.length) return body.errors.map((e) => e.msg).join('; ');
  }
  const t = (text || '').trim();
  return t ? `${status}: ${t.slice(0, 500)}` : `the server answered ${status}`;
}

let asking = null; // the open token prompt, shared by concurrent requests

// askToken opens the token dialog and resolves with the token entered, or
// null when the user cancels.
function askToken(retry) {
  if (asking) return asking;
  asking = new Promise((resolve) => {
    const dialog = document.getElementById('token-dialog');
    const form = document.getElementById('token-form');
    const input = document.getElementById('token-input');
    const error = document.getElementById('token-error');
    const cancel = document.getElementById('token-cancel');
    error.hidden = !retry;
    error.textContent = retry ? 'That token was refused. Enter it again.' : '';
    input.value = '';
    const done = (tok) => {
      form.removeEventListener('submit', onSubmit);
      cancel.removeEventListener('click', onCancel);
      dialog.removeEventListener('cancel', onCancel);
      if (dialog.open) dialog.close();
      asking = null;
      resolve(tok);
    };
    const onSubmit = (e) => {
      e.preventDefault();
      const tok = input.value.trim();
      if (tok) done(tok);
    };
    const onCancel = (e) => {
      e.preventDefault();
      done(null);
    };
    form.addEventListener('submit', onSubmit);
    cancel.addEventListener('click', onCancel);
    dialog.addEventListener('cancel', onCancel);
    dialog.showModal();
    input.focus();
  });
  return asking;
}

// getJSON fetches path with the given query parameters (empty ones left out)
// and returns the decoded JSON. An answer other than 2xx throws an APIError
// with the server's message. A 401 asks for the token, keeps it in
// sessionStorage and retries.
export async function getJSON(path, params, signal) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') q.set(k, v);
  }
  const url = path + (q.toString() ? '?' + q : '');
  let refused = false;
  for (;;) {
    const headers = { Accept: 'application/json' };
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = 'Bearer ' + token;
    let resp;
    try {
      resp = await fetch(url, { headers, signal, credentials: 'omit', cache: 'no-store' });
    } catch (err) {
      if (err.name === 'AbortError') throw err;
      throw new APIError(0, `cannot reach the server (${err.message})`);
    }
    if (resp.status === 401) {
      if (token) {
        sessionStorage.removeItem(TOKEN_KEY);
        refused = true;
      }
      const entered = await askToken(refused);
      if (entered === null) throw new APIError(401, 'This server requires a bearer token (loupe serve --token).');
      sessionStorage.setItem(TOKEN_KEY, entered);
      continue;
    }
    const text = await resp.text();
    let body = null;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: reported below when the status is an error
    }
    if (!resp.ok) throw new APIError(resp.status, message(body, text, resp.status));
    if (body === null) throw new APIError(resp.status, `${path}: the answer is not JSON`);
    return body;
  }
}

// Cached lookups that several views need.
let configPromise = null;
export function uiConfig() {
  configPromise ??= getJSON('/api/ui/config').catch((err) => {
    configPromise = null;
    throw err;
  });
  return configPromise;
}

export async function services(signal) {
  const r = await getJSON('/api/services', null, signal);
  return (r.data || []).slice().sort();
}

export async function metricNames(signal) {
  const r = await getJSON('/api/v1/label/__name__/values', null, signal);
  return r.data || [];
}
