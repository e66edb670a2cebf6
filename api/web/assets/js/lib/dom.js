// A few helpers to build the DOM without HTML strings (nothing typed by anyone is ever
// parsed as markup).

const SVG = 'http://www.w3.org/2000/svg';

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function attrs(el, props) {
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.setAttribute('class', Array.isArray(v) ? v.filter(Boolean).join(' ') : v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  return el;
}

/** h('p', {class: 'body'}, 'text', child, ...) */
export function h(tag, props, ...children) {
  return append(attrs(document.createElement(tag), props), children);
}

/** The same for SVG elements. */
export function s(tag, props, ...children) {
  return append(attrs(document.createElementNS(SVG, tag), props), children);
}

export function $(selector, root = document) {
  return root.querySelector(selector);
}

export function $$(selector, root = document) {
  return [...root.querySelectorAll(selector)];
}

export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** Moves focus to `el` (making it focusable for script only if need be) and shows it. */
export function focus(el) {
  if (!el) return;
  if (!el.hasAttribute('tabindex') && !/^(A|BUTTON|INPUT|SELECT|TEXTAREA)$/.test(el.tagName)) {
    el.setAttribute('tabindex', '-1');
  }
  el.focus();
  el.scrollIntoView?.({ block: 'start' });
}

/** A description list of [term, value] rows (rows with a null value are left out). */
export function summaryList(rows) {
  return h('dl', { class: 'summary-list' },
    rows.filter(([, v]) => v != null && v !== '').map(([k, v]) =>
      h('div', { class: 'summary-list__row' },
        h('dt', { class: 'summary-list__key' }, k),
        h('dd', { class: 'summary-list__value' }, v))));
}

/** A status tag: words, and a class for its colour (the words carry the meaning). */
export function tag(text, tone = '') {
  return h('strong', { class: ['tag', tone && `tag--${tone}`] }, text);
}

/** Radios built from [value, label, hint] rows. */
export function radios(name, options, { idPrefix = name } = {}) {
  return options.map(([value, text, hint]) => {
    const id = `${idPrefix}-${value}`;
    const hintId = hint ? `${id}-hint` : null;
    return h('div', { class: 'radios__item' },
      h('input', { class: 'radios__input', id, name, type: 'radio', value, 'aria-describedby': hintId }),
      h('label', { class: 'label radios__label', for: id }, text),
      hint ? h('div', { class: 'hint radios__hint', id: hintId }, hint) : null);
  });
}
