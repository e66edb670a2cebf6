// The error summary and inline messages, as the NHS design system shows them: a summary at
// the top that takes focus and links to each field, the same words beside the field, and
// "Error: " at the start of the page title.
import { h, focus } from './dom.js';
import { describe as defaultDescribe } from './validate.js';

const baseTitle = () => document.title.replace(/^Error: /, '');

// What a summary link goes to: the group's own target (a section's heading, when the
// problem is with the section as a whole), else its first field.
function controlOf(group) {
  return group.querySelector('[data-error-focus]') ?? group.querySelector('input:not([type=hidden]), select, textarea');
}

/** Takes away every message `show` added. */
export function clear(summary, form) {
  if (summary) {
    summary.hidden = true;
    summary.querySelector('ul')?.replaceChildren();
  }
  if (form) {
    for (const m of form.querySelectorAll('[data-generated-error]')) m.remove();
    for (const g of form.querySelectorAll('.form-group--error')) g.classList.remove('form-group--error');
    for (const c of form.querySelectorAll('[aria-invalid]')) {
      c.removeAttribute('aria-invalid');
      c.classList.remove('input--error');
    }
    for (const el of form.querySelectorAll('[data-describedby]')) {
      const original = el.dataset.describedby;
      if (original) el.setAttribute('aria-describedby', original);
      else el.removeAttribute('aria-describedby');
      delete el.dataset.describedby;
    }
  }
  document.title = baseTitle();
}

function describeBy(el, id) {
  if (!('describedby' in el.dataset)) el.dataset.describedby = el.getAttribute('aria-describedby') ?? '';
  const ids = new Set((el.getAttribute('aria-describedby') ?? '').split(/\s+/).filter(Boolean));
  ids.add(id);
  el.setAttribute('aria-describedby', [...ids].join(' '));
}

/**
 * Shows `problems` ([{field, reason, limit, message}], field null for a problem with no
 * field; `describe(problem)` gives the words for one with a field) in the
 * summary and beside their fields, then moves focus to the summary.
 */
export function show(summary, form, problems, { describe = defaultDescribe } = {}) {
  clear(summary, form);
  const list = summary.querySelector('ul');
  const seen = new Set();
  for (const p of problems) {
    const text = p.field ? describe(p) : p.message;
    const group = p.field && form ? form.querySelector(`[data-field="${CSS.escape(p.field)}"]`) : null;
    const control = group && controlOf(group);
    if (!control || seen.has(p.field)) {
      list.append(h('li', {}, text));
      continue;
    }
    seen.add(p.field);
    list.append(h('li', {}, h('a', {
      href: `#${control.id}`,
      onclick: (e) => {
        e.preventDefault();
        const details = control.closest('details');
        if (details) details.open = true;
        (group.querySelector('legend, label') ?? control).scrollIntoView({ block: 'start' });
        control.focus({ preventScroll: true });
      },
    }, text)));
    const errorId = `${control.id}-error`;
    const message = h('p', { class: 'error-message', id: errorId, 'data-generated-error': true },
      h('span', { class: 'visually-hidden' }, 'Error: '), text);
    group.classList.add('form-group--error');
    if (control.hasAttribute('data-error-focus')) {
      control.after(message);
      continue;
    }
    const fieldset = group.querySelector('fieldset');
    const anchor = group.querySelector('.radios, .checkboxes, .date-time') ?? control;
    anchor.before(message);
    describeBy(fieldset ?? control, errorId);
    if (!fieldset) {
      control.setAttribute('aria-invalid', 'true');
      control.classList.add('input--error');
    } else {
      for (const c of group.querySelectorAll('input[type=date], input[type=time], input[type=text]')) {
        c.setAttribute('aria-invalid', 'true');
        c.classList.add('input--error');
      }
    }
    const details = group.closest('details');
    if (details) details.open = true;
  }
  document.title = `Error: ${baseTitle()}`;
  summary.hidden = false;
  focus(summary);
}

/** Problems for an error the API or the network raised (see api.js). */
export function problemsOf(err) {
  if (err?.fieldErrors) {
    const fields = err.fieldErrors();
    if (fields.length) return fields;
    const first = err.errors?.[0];
    switch (err.code) {
      case 'CONFLICT':
        return [{ field: null, message: 'Someone else changed this while you were looking at it. The page now shows their changes: check them, then try again.' }];
      case 'FORBIDDEN':
        return [{ field: null, message: `You cannot do that: ${first?.message ?? 'it is not yours to do'}.` }];
      case 'NOT_FOUND':
        return [{ field: null, message: 'It was not found, or it is not yours to see.' }];
      case 'UNAUTHENTICATED':
        return [{ field: null, message: 'Your sign-in is no longer valid. Sign in again.' }];
      case 'INTERNAL':
        return [{ field: null, message: 'Something went wrong in Candour. Try again; if it keeps happening, tell the service desk.' }];
      default:
        return [{ field: null, message: first?.message ?? 'Something went wrong.' }];
    }
  }
  return [{ field: null, message: 'Candour could not be reached. Check the connection and try again: nothing will be sent twice.' }];
}
