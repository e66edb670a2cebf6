// Form groups built in script (the incident and action pages), with the same markup as
// the static forms: a label or legend, a hint, the control, and `data-field` naming the API
// field so that errors.js can put a message beside it.
import { h, radios } from './dom.js';

function hintOf(id, hint) {
  return hint ? h('div', { class: 'hint', id: `${id}-hint` }, hint) : null;
}

export function textGroup({ field, id = field, label, hint, value = '', rows, type = 'text', width, autocomplete = 'off' }) {
  const described = hint ? `${id}-hint` : null;
  const control = rows
    ? h('textarea', { class: 'textarea', id, name: field, rows, 'aria-describedby': described })
    : h('input', { class: ['input', width && `input--width-${width}`, type === 'date' && 'input--date'], id, name: field, type, autocomplete, 'aria-describedby': described });
  control.value = value ?? '';
  return h('div', { class: 'form-group', 'data-field': field },
    h('label', { class: 'label', for: id }, label), hintOf(id, hint), control);
}

export function selectGroup({ field, id = field, label, hint, options, value = '' }) {
  const select = h('select', { class: 'select', id, name: field, 'aria-describedby': hint ? `${id}-hint` : null },
    options.map(([v, text]) => h('option', { value: v }, text)));
  select.value = value ?? '';
  return h('div', { class: 'form-group', 'data-field': field },
    h('label', { class: 'label', for: id }, label), hintOf(id, hint), select);
}

export function radioGroup({ field, name = field, legend, hint, options, value, small = true }) {
  const id = `${name}-fieldset`;
  const items = radios(name, options);
  for (const item of items) {
    const input = item.querySelector('input');
    if (input.value === value) input.checked = true;
  }
  return h('div', { class: 'form-group', 'data-field': field },
    h('fieldset', { class: 'fieldset', 'aria-describedby': hint ? `${id}-hint` : null },
      h('legend', { class: ['fieldset__legend', small ? 'fieldset__legend--s' : 'fieldset__legend--m'] }, legend),
      hintOf(id, hint),
      h('div', { class: 'radios' }, items)));
}

export function checkbox({ field, id = field, label, hint, checked = false }) {
  const input = h('input', { class: 'checkboxes__input', id, name: field, type: 'checkbox', value: 'yes', 'aria-describedby': hint ? `${id}-hint` : null });
  input.checked = checked;
  return h('div', { class: 'form-group', 'data-field': field },
    h('div', { class: 'checkboxes' },
      h('div', { class: 'checkboxes__item' }, input,
        h('label', { class: 'label checkboxes__label', for: id }, label),
        hint ? h('div', { class: 'hint checkboxes__hint', id: `${id}-hint` }, hint) : null)));
}

export function button(text, { secondary = false, type = 'submit', id } = {}) {
  return h('button', { class: ['button', secondary && 'button--secondary'], type, id }, text);
}

/** A responsive table: each cell carries its column's heading for narrow screens. */
export function table({ caption, captionHidden = false, head, rows, numeric = [] }) {
  return h('table', { class: 'table table--responsive' },
    caption ? h('caption', { class: ['table__caption', captionHidden && 'visually-hidden'] }, caption) : null,
    h('thead', {}, h('tr', {}, head.map((t, i) => h('th', { scope: 'col', class: numeric.includes(i) ? 'numeric' : null }, t)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((cell, i) =>
      i === 0 && r.rowHeader
        ? h('th', { scope: 'row', 'data-label': head[i] }, cell)
        : h('td', { 'data-label': head[i], class: numeric.includes(i) ? 'numeric' : null }, cell))))));
}
