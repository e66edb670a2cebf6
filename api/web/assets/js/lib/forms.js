// Form groups built in script (the incident and action pages), with the same markup as
// the static forms: a label or legend, a hint, the control, and `data-field` naming the API
// field so that errors.js can put a message beside it. And the file picker of the report
// form and the incident page, which uploads each file as soon as it is chosen.
import { h, radios, replace } from './dom.js';
import { upload, ApiError } from './api.js';
import { bytes } from './format.js';
import { asSentence } from './validate.js';

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

// --- the file picker ------------------------------------------------------------------

/**
 * A file picker's markup, as report.html has it: a label, a hint, a real
 * `<input type="file" multiple>`, the list of files chosen, and a polite live region.
 */
export function fileGroup({ field = 'attachmentIds', id, label, hint, labelClass }) {
  const hintId = `${id}-hint`;
  return h('div', { class: 'form-group', 'data-field': field },
    h('label', { class: ['label', labelClass], for: id }, label),
    h('div', { class: 'hint', id: hintId }, hint),
    h('input', { class: 'file-upload', id, type: 'file', multiple: true, 'aria-describedby': hintId }),
    h('ul', { class: 'file-list', id: `${id}-list`, hidden: true }),
    h('div', { class: 'visually-hidden', id: `${id}-status`, role: 'status', 'aria-live': 'polite' }));
}

/** What to say about a file that could not be uploaded: the server's words when it gave some. */
function uploadProblem(err) {
  if (err instanceof ApiError) {
    const code = err.code;
    if (code === 'UNAUTHENTICATED') return 'Your sign-in is no longer valid. Sign in again.';
    if (code === 'INTERNAL') return 'Something went wrong in Candour. Remove it and try again.';
    return asSentence(err.errors[0]?.message ?? 'The file was refused');
  }
  return 'It did not reach Candour. Check the connection, then remove it and choose it again.';
}

/**
 * Wires the picker in `group` (made by `fileGroup`, or the same markup in a page). Each
 * file chosen is checked against `rules` (`attachmentRules`: size and count only, for a
 * fast answer; the server sniffs the type) and uploaded at once with its own progress bar.
 * `already` is how many files the record (`record`, in words) carries now; `onChange` is
 * called whenever the list changes. Returns what the form needs to send: the uploaded ids,
 * whether uploads are still going, and the files that failed.
 */
export function filePicker(group, { rules = null, already = 0, record = 'record', onChange = () => {} } = {}) {
  const input = group.querySelector('input[type=file]');
  const list = group.querySelector('.file-list');
  const status = group.querySelector('[role=status]');
  let items = [];
  let serial = 0;
  // No `accept` filter: the chooser would then hide files by their extension, and the
  // type is the server's to decide from the content.

  // Each message is a new line in the live region, so two files finishing together are
  // both announced; only the last few are kept.
  const announce = (text) => {
    status.append(h('p', {}, text));
    while (status.childElementCount > 4) status.firstElementChild.remove();
  };

  const changed = () => {
    list.hidden = items.length === 0;
    onChange();
  };

  function showState(item) {
    const el = item.el;
    el.classList.toggle('file-list__item--error', item.state === 'failed');
    el.classList.toggle('file-list__item--done', item.state === 'uploaded');
    item.progress.hidden = item.state === 'failed';
    if (item.state === 'uploading') {
      item.stateText.textContent = `Uploading: ${item.progress.value}%`;
    } else if (item.state === 'uploaded') {
      item.progress.value = 100;
      item.stateText.textContent = item.attachment?.status === 'AWAITING_SCAN'
        ? 'Uploaded. It will be checked for viruses before anyone can open it.'
        : 'Uploaded.';
    } else {
      replace(item.stateText, h('span', { class: 'error-message', id: `${item.key}-error` },
        h('span', { class: 'visually-hidden' }, 'Error: '), item.problem));
    }
  }

  function row(item) {
    item.progress = h('progress', { class: 'file-list__progress', max: '100', value: '0', 'aria-label': `Uploading ${item.name}` });
    item.progress.value = 0;
    item.stateText = h('p', { class: 'file-list__state', id: `${item.key}-state` });
    const remove = h('button', { class: 'button button--secondary button--small', type: 'button', onclick: () => drop(item) },
      'Remove', h('span', { class: 'visually-hidden' }, ` ${item.name}`));
    item.el = h('li', { class: 'file-list__item' },
      h('p', { class: 'file-list__name' }, item.name, ' ', h('span', { class: 'file-list__size' }, `(${bytes(item.size)})`)),
      item.progress, item.stateText, h('div', { class: 'file-list__actions' }, remove));
    item.removeButton = remove;
    showState(item);
    list.append(item.el);
  }

  function fail(item, problem) {
    item.state = 'failed';
    item.problem = problem;
    showState(item);
    announce(`${item.name} could not be uploaded: ${problem}`);
  }

  function start(item) {
    item.controller = new AbortController();
    item.state = 'uploading';
    item.promise = upload(item.file, {
      signal: item.controller.signal,
      onProgress: (sent, total) => {
        if (item.state !== 'uploading') return;
        item.progress.value = total ? Math.min(100, Math.round((sent / total) * 100)) : 100;
        showState(item);
      },
    }).then((attachment) => {
      item.state = 'uploaded';
      item.attachment = attachment;
      showState(item);
      announce(`${item.name} uploaded`);
      changed();
    }, (err) => {
      if (err?.name === 'AbortError') return;
      fail(item, uploadProblem(err));
      changed();
    });
  }

  const counted = () => items.filter((i) => i.state !== 'failed').length;

  function add(file) {
    const item = { key: `${input.id}-file-${++serial}`, file, name: file.name, size: file.size, state: 'uploading' };
    items.push(item);
    row(item);
    const max = rules?.maxBytes;
    const most = rules?.maxPerRecord;
    if (file.size === 0) {
      fail(item, 'The file is empty.');
    } else if (max && file.size > max) {
      fail(item, `The file is larger than ${bytes(max)}, the most Candour takes.`);
    } else if (most && already + counted() > most) {
      fail(item, `At most ${most} files can go with one ${record}.`);
    } else {
      start(item);
    }
  }

  function drop(item) {
    const at = items.indexOf(item);
    if (at < 0) return;
    item.controller?.abort();
    items = items.filter((i) => i !== item);
    item.el.remove();
    announce(`${item.name} removed from the list`);
    // Focus goes to the next file's button, else the previous one's, else the picker.
    const next = items[at] ?? items[at - 1];
    (next?.removeButton ?? input).focus();
    changed();
  }

  input.addEventListener('change', () => {
    for (const file of input.files) add(file);
    // Cleared so that choosing the same file again (after removing it) is a change.
    input.value = '';
    changed();
  });

  return {
    /** Ids of the files uploaded, in the order chosen. */
    ids: () => items.filter((i) => i.state === 'uploaded').map((i) => i.attachment.id),
    /** The files uploaded, as the server described them. */
    uploaded: () => items.filter((i) => i.state === 'uploaded').map((i) => i.attachment),
    /** Whether any file is still being uploaded. */
    busy: () => items.some((i) => i.state === 'uploading'),
    /** Resolves when no file is being uploaded (each has succeeded or failed). */
    settled: async () => {
      while (items.some((i) => i.state === 'uploading')) {
        await Promise.allSettled(items.filter((i) => i.state === 'uploading').map((i) => i.promise));
      }
    },
    /** The names of the files that could not be uploaded (still in the list). */
    failed: () => items.filter((i) => i.state === 'failed').map((i) => i.name),
    /** Shows files uploaded earlier (a draft's, after a reload) as uploaded. */
    restore(attachments) {
      for (const a of attachments ?? []) {
        const item = { key: `${input.id}-file-${++serial}`, name: a.fileName, size: a.size, state: 'uploaded', attachment: a };
        items.push(item);
        row(item);
      }
      changed();
    },
    /** Forgets every file (stopping uploads still going), without calling `onChange`. */
    clear() {
      for (const i of items) i.controller?.abort();
      items = [];
      list.replaceChildren();
      list.hidden = true;
      status.replaceChildren();
    },
    /** New limits (once `attachmentRules` has answered), and how many files the record has. */
    setRules(next, count = already) {
      rules = next;
      already = count;
    },
  };
}
