// The only module that touches window.pywebview.api (see docs/desktop-bridge.md).
// Everything else imports call()/on()/dataUrl() from here, so the page can be driven
// by a test stand-in for the api exactly like by the real window.

let apiPromise = null;
let token = '';
const listeners = new Map();

function apiReady() {
  // pywebview creates window.pywebview early and fills in the methods before it fires
  // pywebviewready, so an existing api only counts once it has a method on it.
  const existing = window.pywebview && window.pywebview.api;
  if (existing && typeof existing.hello === 'function') return Promise.resolve(existing);
  return new Promise((resolve) => {
    window.addEventListener('pywebviewready', () => resolve(window.pywebview.api), { once: true });
  });
}

function api() {
  if (!apiPromise) apiPromise = apiReady();
  return apiPromise;
}

const UNREACHABLE = {
  ok: false,
  error: { code: 'bridge', message: '' }, // worded by the page (ui/js/messages.js: error.bridge)
};

/** Call a js_api method; always resolves to {ok: true, ...} or {ok: false, error: {message}}. */
export async function call(name, ...args) {
  const target = await api();
  if (!target || typeof target[name] !== 'function') return UNREACHABLE;
  try {
    const result = await target[name](...args);
    if (result && typeof result === 'object' && 'ok' in result) return result;
    return UNREACHABLE;
  } catch (err) {
    console.error('bridge call failed', name, err);
    return UNREACHABLE;
  }
}

export function setToken(value) {
  token = value;
}

/** URL of a loopback data route, with the launch token (and other query parameters). */
export function dataUrl(path, params = {}) {
  const query = new URLSearchParams({ t: token });
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null) query.set(key, String(value));
  }
  return `${path}?${query}`;
}

/** Subscribe to one event type from /events (or '*' for all). */
export function on(type, handler) {
  if (!listeners.has(type)) listeners.set(type, new Set());
  listeners.get(type).add(handler);
}

function dispatch(event) {
  for (const key of [event.type, '*']) {
    for (const handler of listeners.get(key) || []) {
      try {
        handler(event);
      } catch (err) {
        console.error('event handler failed', event.type, err);
      }
    }
  }
}

let source = null;

/** Open the event stream; the browser reconnects by itself (the server sends retry:). */
export function connectEvents(onReconnect) {
  if (source) source.close();
  let opened = false;
  source = new EventSource(dataUrl('/events'));
  source.onopen = () => {
    // After a reconnect events may have been missed: let the app resync its state.
    if (opened && onReconnect) onReconnect();
    opened = true;
  };
  source.onmessage = (message) => {
    let event;
    try {
      event = JSON.parse(message.data);
    } catch {
      return;
    }
    if (event && typeof event.type === 'string') dispatch(event);
  };
}

/** POST pasted image bytes to the loopback server; resolves to its JSON answer. */
export async function pasteImage(blob, name) {
  try {
    const response = await fetch(dataUrl('/paste', { name }), { method: 'POST', body: blob });
    const answer = await response.json().catch(() => null);
    if (answer && typeof answer === 'object' && 'ok' in answer) return answer;
    return { ok: false, error: { code: 'paste', message: '' } };
  } catch {
    return { ok: false, error: { code: 'paste', message: '' } };
  }
}
