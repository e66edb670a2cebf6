// Sign-in with a pasted token (standalone installs); the intranet's link signs in by itself.
import { start } from '../lib/layout.js';
import { $, h, replace } from '../lib/dom.js';
import { gql, ApiError } from '../lib/api.js';
import { decodeClaims, expired, signIn, takeNotice, viewer } from '../lib/session.js';
import * as errors from '../lib/errors.js';

const NOTICES = {
  'signed-out': 'You have signed out. Anything you had not sent has been cleared from this browser.',
  expired: 'Your sign-in expired, so you have been signed out and anything not yet sent was cleared from this browser. Sign in again to carry on.',
  rejected: 'Candour did not accept your sign-in. Sign in again.',
  required: 'Sign in to use that page.',
  invalid: 'That sign-in link was not valid. Sign in again, or ask for a new link.',
};

// The checks of a pasted token are the page's own (reason codes of its own).
const WORDS = {
  'token|BLANK': 'Paste your sign-in token',
  'token|MALFORMED': 'This is not a sign-in token: check you copied all of it',
  'token|EXPIRED': 'This sign-in token has expired: ask for a new one',
  'token|REFUSED': 'Candour did not accept this token: ask for a new one',
};
const describe = (p) => WORDS[`${p.field}|${p.reason}`] ?? p.message;

/** Where to go after signing in: a path on this site only. */
function next() {
  const n = new URLSearchParams(window.location.search).get('next');
  return n && n.startsWith('/') && !n.startsWith('//') && !n.startsWith('/\\') ? n : '/';
}

start({ auth: 'optional' });
const notice = takeNotice();
if (notice && NOTICES[notice]) {
  replace($('#notice'), h('p', {}, NOTICES[notice]));
  $('#notice').hidden = false;
}
const me = viewer();
if (me) {
  replace($('#notice'), h('p', {}, `You are signed in as ${me.name}. `, h('a', { href: next() }, 'Carry on'), '.'));
  $('#notice').hidden = false;
}

const form = $('#sign-in-form');
const summary = $('#error-summary');
form.addEventListener('submit', async (e) => {
  e.preventDefault();
  const t = $('#token').value.trim().replace(/^Bearer\s+/i, '');
  const fail = (reason) => errors.show(summary, form, [{ field: 'token', reason, message: reason }], { describe });
  if (!t) return fail('BLANK');
  const claims = decodeClaims(t);
  if (!claims) return fail('MALFORMED');
  if (expired(claims)) return fail('EXPIRED');
  try {
    await gql('{ me { subject } }', {}, { with: t });
  } catch (err) {
    if (err instanceof ApiError && err.code === 'UNAUTHENTICATED') return fail('REFUSED');
    return errors.show(summary, form, errors.problemsOf(err));
  }
  signIn(t);
  window.location.assign(next());
});
