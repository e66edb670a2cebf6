// What every page does first: take a token from the fragment, show who is signed in and
// the links they can use, and sign out on request or when the token expires.
import {
  captureFromLocation, tokenFromFragment, viewer, signOut, watchExpiry, requireSignIn, storedTokenExpired, takeNotice,
} from './session.js';
import { $, $$, h, replace } from './dom.js';

function markCurrent() {
  const here = window.location.pathname;
  for (const a of $$('.nav__link')) {
    if (a.getAttribute('href') === here) a.setAttribute('aria-current', 'page');
  }
}

// Charts' tables are in <details>: open them for print, and close them again after.
function printTables() {
  let opened = [];
  window.addEventListener('beforeprint', () => {
    opened = $$('details:not([open])');
    for (const d of opened) d.open = true;
  });
  window.addEventListener('afterprint', () => {
    for (const d of opened) d.open = false;
    opened = [];
  });
}

export function banner(text, tone = 'info') {
  const el = $('#banner');
  el.className = `banner banner--${tone}`;
  replace(el, text);
  el.hidden = false;
}

/**
 * Sets the page up. `auth: 'required'` sends a signed-out visitor to sign in (and returns
 * null); `'optional'` lets them stay. `reviewer: true` is for handlers and quality leads.
 */
export function start({ auth = 'required', reviewer = false } = {}) {
  captureFromLocation();
  // A sign-in link followed from a Candour page already open changes only the fragment.
  window.addEventListener('hashchange', () => {
    if (!tokenFromFragment(window.location.hash)) return;
    captureFromLocation();
    window.location.reload();
  });
  markCurrent();
  printTables();
  if (auth === 'required' && !requireSignIn()) return null;
  if (auth === 'optional' && storedTokenExpired()) {
    // A page anyone may use stays put: forget the sign-in here and say so.
    signOut('expired', { go: false });
    takeNotice();
    banner('Your sign-in expired, so you have been signed out and anything not yet sent was cleared from this browser.');
  }
  const me = viewer();
  if (me) {
    $('#account-name').textContent = me.name;
    $('#account').hidden = false;
    $('#sign-out').addEventListener('click', () => signOut('signed-out'));
    for (const li of $$('[data-for="reviewer"]')) li.hidden = !me.reviewer;
    if (auth === 'required') {
      watchExpiry();
    } else {
      watchExpiry(() => {
        signOut('expired', { go: false });
        takeNotice();
        $('#account').hidden = true;
        banner('Your sign-in expired, so you have been signed out and anything not yet sent was cleared from this browser.');
      });
    }
  }
  if (reviewer && me && !me.reviewer) {
    replace($('#main'),
      h('h1', {}, 'This page is for handlers and quality leads'),
      h('p', { class: 'body' }, 'Your sign-in does not include the handler or quality lead role. ',
        h('a', { href: '/' }, 'Go to the start page'), '.'));
    return null;
  }
  return me;
}
