// Sign-in for the pages. The bearer token arrives in the URL fragment (`/#token=…` from
// `candour token --link`, or `#access_token=…` from an identity provider's redirect), which
// browsers never send to a server, or is pasted on the sign-in page. It is kept in this
// tab's sessionStorage only (shared ward computers: closing the tab forgets it), and the
// fragment is taken out of the address bar and the history at once.

const TOKEN = 'candour.token';
const NOTICE = 'candour.notice';
const DRAFTS = 'candour.draft.';

// Set once a sign-out is on its way to the sign-in page.
let leaving = false;

/** The token in a URL fragment (`#token=…` or `#access_token=…`), or null. */
export function tokenFromFragment(hash) {
  if (!hash || hash.length < 2) return null;
  const params = new URLSearchParams(hash.slice(1));
  const t = params.get('token') ?? params.get('access_token');
  return t && t.trim() ? t.trim() : null;
}

function base64UrlDecode(s) {
  const padded = s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4);
  const bin = atob(padded);
  const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/** A JWT's claims, unverified (the server verifies); null when it is not a JWT. */
export function decodeClaims(token) {
  if (typeof token !== 'string') return null;
  const parts = token.trim().split('.');
  if (parts.length !== 3 || !parts[1]) return null;
  try {
    const claims = JSON.parse(base64UrlDecode(parts[1]));
    return claims && typeof claims === 'object' && !Array.isArray(claims) ? claims : null;
  } catch {
    return null;
  }
}

/** Whether claims have expired at `nowSeconds` (a token without `exp` counts as expired). */
export function expired(claims, nowSeconds = Date.now() / 1000) {
  return !claims || typeof claims.exp !== 'number' || claims.exp <= nowSeconds;
}

function storage() {
  return window.sessionStorage;
}

/** Moves a token from the fragment into session storage and out of the address bar. */
export function captureFromLocation() {
  const t = tokenFromFragment(window.location.hash);
  if (!t) return;
  history.replaceState(history.state, '', window.location.pathname + window.location.search);
  const claims = decodeClaims(t);
  if (expired(claims)) {
    setNotice(claims ? 'expired' : 'invalid');
    storage().removeItem(TOKEN);
    return;
  }
  storage().setItem(TOKEN, t);
}

export function signIn(token) {
  storage().setItem(TOKEN, token.trim());
}

/** The current token, or null (an expired one signs out). */
export function token() {
  const t = storage().getItem(TOKEN);
  if (!t) return null;
  if (expired(decodeClaims(t))) {
    signOut('expired');
    return null;
  }
  return t;
}

/** Whether this tab holds a token that has expired. */
export function storedTokenExpired() {
  const t = storage().getItem(TOKEN);
  return Boolean(t) && expired(decodeClaims(t));
}

/** Who is signed in, from the token's claims (for the page only; the server decides). */
export function viewer() {
  const t = token();
  if (!t) return null;
  const c = decodeClaims(t);
  const roles = Array.isArray(c.roles) ? c.roles : [];
  return {
    subject: c.sub,
    name: c.name || c.sub,
    email: c.email,
    roles,
    departments: Array.isArray(c.departments) ? c.departments : [],
    expiresAt: new Date(c.exp * 1000),
    reviewer: roles.includes('handler') || roles.includes('quality_lead'),
    qualityLead: roles.includes('quality_lead'),
  };
}

export function setNotice(kind) {
  storage().setItem(NOTICE, kind);
}

/** The notice left by the last sign-out, once. */
export function takeNotice() {
  const n = storage().getItem(NOTICE);
  storage().removeItem(NOTICE);
  return n;
}

/** Forgets the token and every draft (they may hold patient details), then goes to sign-in. */
export function signOut(reason = 'signed-out', { go = true } = {}) {
  const s = storage();
  s.removeItem(TOKEN);
  for (let i = s.length - 1; i >= 0; i--) {
    const k = s.key(i);
    if (k && k.startsWith(DRAFTS)) s.removeItem(k);
  }
  setNotice(reason);
  if (go && !leaving) {
    leaving = true;
    const here = window.location.pathname;
    const next = here === '/sign-in' ? '' : `?next=${encodeURIComponent(here)}`;
    window.location.assign(`/sign-in${next}`);
  }
}

/** Calls `then` when the token expires (by default: sign out, saying why). */
export function watchExpiry(then = () => signOut('expired')) {
  const t = storage().getItem(TOKEN);
  const c = t && decodeClaims(t);
  if (!c || typeof c.exp !== 'number') return;
  const ms = c.exp * 1000 - Date.now();
  // setTimeout holds at most about 24 days.
  setTimeout(then, Math.max(0, Math.min(ms, 2 ** 31 - 1)));
}

/** Sends someone who is not signed in to the sign-in page, coming back here after. */
export function requireSignIn() {
  if (token()) return true;
  // An expired link has left its own notice; keep it.
  if (!leaving) signOut(storage().getItem(NOTICE) ?? 'required');
  return false;
}

export const draftKey = (name) => DRAFTS + name;
