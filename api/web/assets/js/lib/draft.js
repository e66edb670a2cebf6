// Drafts of a form, kept in this tab's sessionStorage so that a reload loses nothing, and
// cleared on sending and on sign-out (they may hold patient details).
import { draftKey } from './session.js';

export function load(name) {
  try {
    return JSON.parse(window.sessionStorage.getItem(draftKey(name)) ?? 'null');
  } catch {
    return null;
  }
}

export function save(name, value) {
  window.sessionStorage.setItem(draftKey(name), JSON.stringify(value));
}

export function clear(name) {
  window.sessionStorage.removeItem(draftKey(name));
}
