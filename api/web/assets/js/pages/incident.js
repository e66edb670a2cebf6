// One incident: what was reported, its evidence files, its review, the moves this viewer
// may make (only those the server lists in allowedTransitions), its corrective actions,
// notes and history.
import { start } from '../lib/layout.js';
import { gql, ApiError, NetworkError } from '../lib/api.js';
import { $, h, replace, summaryList, tag, focus } from '../lib/dom.js';
import {
  label, statusLabel, statusTone, MOVES, PHYSICAL_HARM, PSYCHOLOGICAL_HARM, LEARNING_RESPONSES,
  ACTION_STATUSES, PRIORITIES, CANDOUR_STEPS, FACTS, ATTACHMENT_STATUSES, attachmentTone, attachmentRulesInWords,
} from '../lib/labels.js';
import { when, day, todayIso, addDays, bytes } from '../lib/format.js';
import { textGroup, selectGroup, radioGroup, checkbox, button, table, fileGroup, filePicker } from '../lib/forms.js';
import { downloadFile } from '../lib/export.js';
import { describe as wordsFor, problem } from '../lib/validate.js';
import * as errors from '../lib/errors.js';

const reference = decodeURIComponent(window.location.pathname.split('/')[2] ?? '');
const summary = $('#error-summary');
const root = $('#incident');

const FIELDS = `
  id reference title description status version kind eventType category location
  occurredAt reportedAt physicalHarm psychologicalHarm nearMiss immediateActions anonymous
  department { name code } reporter { id name } handler { id name }
  learningResponse learningSummary findings feedbackToReporter statusReason triagedAt closedAt
  suggestedLearningResponse { response rule } learningResponseOverrideReason
  allowedTransitions regulatoryFacts
  equipment { assetId manufacturer model serialNumber }
  dutyOfCandour { applies complete steps { step takenAt } }
  comments { body createdAt author { name } }
  correctiveActions { id title status dueDate overdue ownerEmail owner { name } }
  attachments { id fileName contentType size status uploadedAt downloadUrl removedAt removalReason }
  history { at action actorLabel actor { name } changes { field before after sensitive } }`;

const LOAD = `query Incident($ref: String!) {
  me { staff { id } }
  attachmentRules { maxBytes maxImageBytes maxPerRecord allowedTypes anonymousTypes scanned }
  incidentByReference(reference: $ref) { ${FIELDS} }
}`;

// The move being made, for the words of a missing reason.
let moving = null;
const WORDS = {
  'reason|BLANK': () => (moving === 'DECLINED' ? 'Give the reason for declining it' : 'Give the reason for reopening it'),
  'to|BLANK': 'Choose where the incident goes next',
  'feedbackToReporter|RULE':
    'Record the feedback to the reporter before closing: staff stop reporting when they never hear back',
  'correctiveActions|RULE':
    'Every corrective action must be completed or cancelled before the incident closes',
  'learningResponse|RULE':
    'Choose a learning response before closing: the harm was moderate or worse',
  'learningResponseOverrideReason|BLANK':
    'Give the reason for choosing another learning response than the response plan suggests',
  'learningSummary|RULE':
    'Write a learning summary before closing: the harm was moderate or worse',
  'dutyOfCandour|RULE':
    'Record the duty of candour first: told in person, written notification and final letter',
  'body|BLANK': 'Write the note',
  'title|BLANK': 'Enter what the action is, in up to 200 characters',
  'title|TOO_LONG': (p) => `Enter what the action is, in up to ${p.limit} characters`,
  'ownerEmail|MALFORMED': 'Enter the owner’s email address, like name@trust.nhs.uk',
  'dueDate|BLANK': 'Enter the date it is due',
  'takenAt|IN_FUTURE': 'The date the step was taken must be today or earlier',
  'takenAt|BLANK': 'Enter the date the step was taken',
  'step|DUPLICATE': 'This step is already recorded',
};
const describe = (p) => wordsFor(p, WORDS);

let incident = null;
let me = null;
let rules = null;

function done(message) {
  const el = $('#done');
  el.textContent = message;
  el.hidden = false;
  focus(el);
}

/** Runs a change; on success reloads, says `message` and returns true, else shows the problems. */
async function change(form, mutation, variables, message) {
  errors.clear(summary, root);
  $('#done').hidden = true;
  try {
    await gql(mutation, variables);
  } catch (err) {
    if (!(err instanceof ApiError || err instanceof NetworkError)) throw err;
    if (err.code === 'CONFLICT') await load();
    errors.show(summary, root, errors.problemsOf(err), { describe });
    return false;
  }
  await load();
  done(typeof message === 'function' ? message() : message);
  return true;
}

function problems(form, list) {
  errors.show(summary, root, list, { describe });
  return false;
}

// --- sections ----------------------------------------------------------------------------

function facts(i) {
  return summaryList([
    ['Status', h('span', {}, tag(statusLabel(i.status), statusTone(i.status)), i.statusReason ? ` (${i.statusReason})` : '')],
    ['Department', i.department.name],
    ['Kind', label('kind', i.kind)],
    ['Recorded as', label('eventType', i.eventType)],
    ['Near miss', i.nearMiss ? 'Yes, it was stopped in time' : 'No'],
    ['Physical harm', label('physicalHarm', i.physicalHarm)],
    ['Psychological harm', label('psychologicalHarm', i.psychologicalHarm)],
    ['Happened', when(i.occurredAt)],
    ['Reported', `${when(i.reportedAt)}${i.anonymous ? ', anonymously' : i.reporter?.name ? ` by ${i.reporter.name}` : ''}`],
    ['Where', i.location],
    ['Category', i.category],
    ['Handler', i.handler?.name],
    ['Equipment', i.equipment ? [i.equipment.assetId && `asset ${i.equipment.assetId}`, i.equipment.manufacturer, i.equipment.model,
      i.equipment.serialNumber && `serial ${i.equipment.serialNumber}`].filter(Boolean).join(', ') : null],
    ['Regulatory facts', i.regulatoryFacts?.length ? i.regulatoryFacts.map((f) => FACTS[f] ?? f).join('; ') : null],
    ['Closed', i.closedAt ? when(i.closedAt) : null],
  ]);
}

function narrative(i) {
  return [
    h('h2', {}, 'What happened'),
    h('p', { class: 'body prewrap' }, i.description ?? 'Not shown to you.'),
    i.immediateActions ? [h('h3', {}, 'What was done straight away'), h('p', { class: 'body prewrap' }, i.immediateActions)] : null,
  ];
}

function learning(i) {
  return [
    h('h2', {}, 'What was learned'),
    summaryList([
      ['Learning response', i.learningResponse ? label('learningResponse', i.learningResponse) : 'Not chosen yet'],
      ['Learning summary', i.learningSummary ?? 'Not written yet'],
      ['Feedback to the reporter', i.feedbackToReporter ?? 'Not given yet'],
      ['Findings (internal)', i.findings],
    ]),
  ];
}

function patient() {
  const box = h('div', { id: 'patient-box' },
    h('p', { class: 'body' }, 'Patient details are protected. Opening them is recorded in the access log with your name.'),
    h('button', {
      class: 'button button--secondary', type: 'button', id: 'show-patient',
      onclick: async () => {
        try {
          const data = await gql(`query($ref: String!) { incidentByReference(reference: $ref) { patient { nhsNumber name dateOfBirth } } }`, { ref: reference });
          const p = data.incidentByReference.patient;
          replace(box, p
            ? summaryList([['NHS number', p.nhsNumber?.replace(/^(\d{3})(\d{3})(\d{4})$/, '$1 $2 $3')], ['Name', p.name], ['Date of birth', day(p.dateOfBirth)]])
            : h('p', { class: 'body' }, 'No patient details were given.'));
          focus(box);
        } catch (err) {
          errors.show(summary, root, errors.problemsOf(err), { describe });
        }
      },
    }, 'Show patient details'));
  return [h('h2', {}, 'Patient'), box];
}

const isFinal = (s) => s === 'CLOSED' || s === 'DECLINED';

function moves(i) {
  const options = i.allowedTransitions.map((to) => {
    const reopen = isFinal(i.status) && to === 'UNDER_REVIEW';
    return [to, reopen ? 'Reopen for review' : MOVES[to] ?? statusLabel(to), reopen ? 'A reason is needed.' : to === 'DECLINED' ? 'A reason is needed.' : ''];
  });
  const form = h('form', { id: 'transition-form', method: 'post', novalidate: true },
    radioGroup({ field: 'to', name: 'to', legend: 'Where does it go next?', options }),
    textGroup({ field: 'reason', id: 'reason', label: 'Reason', hint: 'Needed to decline or reopen; kept with the incident and shown to the reporter.', rows: 2 }),
    button('Move the incident'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const to = new FormData(form).get('to');
    const reason = form.elements.reason.value.trim();
    moving = to;
    if (!to) return problems(form, [problem('to', 'BLANK', 'to is required')]);
    if (to === 'DECLINED' && !reason) return problems(form, [problem('reason', 'BLANK', 'declining an incident needs a reason')]);
    if (isFinal(i.status) && !reason) return problems(form, [problem('reason', 'BLANK', 'reopening an incident needs a reason')]);
    change(form, `mutation($input: TransitionIncidentInput!) { transitionIncident(input: $input) { incident { status } } }`,
      { input: { incidentId: i.id, to, expectedVersion: i.version, reason: reason || undefined } },
      () => `The incident is now: ${statusLabel(incident.status)}.`);
  });
  return [h('h2', { id: 'moves-title' }, 'Move the incident'), form];
}

function triage(i, staffId) {
  const harmOptions = (levels) => levels.map(([v, l]) => [v, l]);
  const form = h('form', { id: 'triage-form', method: 'post', novalidate: true },
    h('p', { class: 'body' }, i.status === 'REPORTED' ? 'Saving the review starts it (the incident moves to Under review).' : 'Only what you change is saved.'),
    staffId && i.handler?.id !== staffId ? checkbox({ field: 'handlerId', id: 'handlerId', label: 'I am handling this incident' }) : null,
    selectGroup({ field: 'physicalHarm', id: 'triage-physicalHarm', label: 'Confirmed physical harm', options: harmOptions(PHYSICAL_HARM), value: i.physicalHarm }),
    selectGroup({ field: 'psychologicalHarm', id: 'triage-psychologicalHarm', label: 'Confirmed psychological harm', options: harmOptions(PSYCHOLOGICAL_HARM), value: i.psychologicalHarm }),
    textGroup({ field: 'category', id: 'triage-category', label: 'Category', value: i.category ?? '', width: 20 }),
    selectGroup({ field: 'learningResponse', id: 'learningResponse', label: 'Learning response (PSIRF)',
      hint: i.suggestedLearningResponse
        ? `The response plan suggests ${label('learningResponse', i.suggestedLearningResponse.response)} (${i.suggestedLearningResponse.rule}).`
        : undefined,
      options: [['', 'Not chosen yet'], ...LEARNING_RESPONSES], value: i.learningResponse ?? '' }),
    textGroup({ field: 'learningResponseOverrideReason', id: 'learningResponseOverrideReason', label: 'Reason for another response (if you chose one)', hint: 'Needed when the response chosen is not the one the plan suggests.', rows: 2, value: i.learningResponseOverrideReason ?? '' }),
    textGroup({ field: 'learningSummary', id: 'learningSummary', label: 'Learning summary', hint: 'What was learned, in words every member of staff can use. The reporter sees it.', rows: 3, value: i.learningSummary ?? '' }),
    textGroup({ field: 'findings', id: 'findings', label: 'Findings (internal)', hint: 'Not shown to the reporter.', rows: 3, value: i.findings ?? '' }),
    textGroup({ field: 'feedbackToReporter', id: 'feedbackToReporter', label: 'Feedback to the reporter', hint: 'What happened next. Needed before the incident closes.', rows: 3, value: i.feedbackToReporter ?? '' }),
    button('Save the review'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const f = form.elements;
    const input = { incidentId: i.id, expectedVersion: i.version };
    if (f.handlerId?.checked) input.handlerId = staffId;
    if (f.physicalHarm.value !== i.physicalHarm) input.physicalHarm = f.physicalHarm.value;
    if (f.psychologicalHarm.value !== i.psychologicalHarm) input.psychologicalHarm = f.psychologicalHarm.value;
    for (const name of ['category', 'learningSummary', 'findings', 'feedbackToReporter', 'learningResponseOverrideReason']) {
      const v = f[name].value.trim();
      if (v && v !== (i[name] ?? '')) input[name] = v;
    }
    if (f.learningResponse.value && f.learningResponse.value !== i.learningResponse) input.learningResponse = f.learningResponse.value;
    change(form, `mutation($input: TriageIncidentInput!) { triageIncident(input: $input) { incident { status } } }`,
      { input }, 'The review is saved.');
  });
  return [h('h2', {}, 'Review'), form];
}

function candour(i) {
  if (!i.dutyOfCandour.applies) return null;
  const d = i.dutyOfCandour;
  const recorded = d.steps.map((s) => [CANDOUR_STEPS[s.step] ?? s.step, when(s.takenAt)]);
  const form = h('form', { id: 'candour-form', method: 'post', novalidate: true },
    selectGroup({ field: 'step', id: 'candour-step', label: 'Step taken', options: Object.entries(CANDOUR_STEPS) }),
    textGroup({ field: 'takenAt', id: 'candour-takenAt', label: 'Date taken', type: 'date', value: todayIso() }),
    button('Record the step', { secondary: true }));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const dateValue = form.elements.takenAt.value;
    if (!dateValue) return problems(form, [problem('takenAt', 'BLANK', 'takenAt is required')]);
    const [y, m, dd] = dateValue.split('-').map(Number);
    const now = new Date();
    const t = dateValue === todayIso() ? now : new Date(y, m - 1, dd, 12);
    if (t > now) return problems(form, [problem('takenAt', 'IN_FUTURE', 'takenAt must not be in the future')]);
    change(form, `mutation($input: RecordDutyOfCandourStepInput!) { recordDutyOfCandourStep(input: $input) { incident { id } } }`,
      { input: { incidentId: i.id, expectedVersion: i.version, step: form.elements.step.value, takenAt: t.toISOString() } },
      'The duty of candour step is recorded.');
  });
  return h('div', { 'data-field': 'dutyOfCandour' },
    h('h2', { id: 'candour-title', tabindex: '-1', 'data-error-focus': true }, 'Duty of candour'),
    h('p', { class: 'body' }, d.complete ? 'Complete.' : 'It applies and is not yet complete: told in person with an apology, written notification, and a final letter.'),
    recorded.length ? summaryList(recorded) : h('p', { class: 'body' }, 'No step recorded yet.'),
    isFinal(i.status) ? null : form);
}

function actions(i) {
  const list = i.correctiveActions ?? [];
  const rows = list.map((a) => [
    h('a', { href: `/actions/${encodeURIComponent(a.id)}` }, a.title),
    ACTION_STATUSES[a.status] ?? a.status,
    a.overdue ? h('span', {}, day(a.dueDate), ' ', tag('Overdue', 'red')) : day(a.dueDate),
    a.owner?.name ?? a.ownerEmail,
  ]);
  const form = h('form', { id: 'action-form', method: 'post', novalidate: true },
    h('h3', {}, 'Raise a corrective action'),
    textGroup({ field: 'title', id: 'action-title', label: 'What needs doing' }),
    textGroup({ field: 'ownerEmail', id: 'action-ownerEmail', label: 'Owner’s email address', type: 'email', width: 20 }),
    textGroup({ field: 'dueDate', id: 'action-dueDate', label: 'Due by', type: 'date', value: addDays(todayIso(), 28) }),
    selectGroup({ field: 'priority', id: 'action-priority', label: 'Priority', options: Object.entries(PRIORITIES), value: 'MEDIUM' }),
    button('Raise the action', { secondary: true }));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const f = form.elements;
    const p = [];
    if (!f.title.value.trim()) p.push(problem('title', 'BLANK', 'title must not be blank'));
    else if ([...f.title.value.trim()].length > 200) p.push(problem('title', 'TOO_LONG', 'title must be at most 200 characters', 200));
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(f.ownerEmail.value.trim())) p.push(problem('ownerEmail', 'MALFORMED', 'ownerEmail must be an email address'));
    if (!f.dueDate.value) p.push(problem('dueDate', 'BLANK', 'dueDate is required'));
    if (p.length) return problems(form, p);
    change(form, `mutation($input: CreateCorrectiveActionInput!) { createCorrectiveAction(input: $input) { correctiveAction { id } } }`,
      { input: { sourceId: i.id, title: f.title.value.trim(), ownerEmail: f.ownerEmail.value.trim(), dueDate: f.dueDate.value, priority: f.priority.value } },
      'The corrective action is raised.');
  });
  return h('div', { 'data-field': 'correctiveActions' },
    h('h2', { id: 'actions-title', tabindex: '-1', 'data-error-focus': true }, 'Corrective actions'),
    rows.length
      ? table({ caption: 'Corrective actions raised from this incident', captionHidden: true, head: ['Action', 'Status', 'Due', 'Owner'], rows })
      : h('p', { class: 'body' }, 'None raised.'),
    isFinal(i.status) ? null : form);
}

function notes(i) {
  const form = h('form', { id: 'comment-form', method: 'post', novalidate: true },
    textGroup({ field: 'body', id: 'comment-body', label: 'Add an internal note', hint: 'Seen by handlers and quality leads only.', rows: 3 }),
    button('Add the note', { secondary: true }));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const body = form.elements.body.value.trim();
    if (!body) return problems(form, [problem('body', 'BLANK', 'body must not be blank')]);
    change(form, `mutation($input: CommentOnIncidentInput!) { commentOnIncident(input: $input) { incident { id } } }`,
      { input: { incidentId: i.id, body } }, 'The note is added.');
  });
  return [
    h('h2', {}, 'Internal notes'),
    i.comments.length
      ? h('ul', { class: 'notes' }, i.comments.map((c) => h('li', { class: 'notes__item' },
        h('p', { class: 'notes__meta' }, `${c.author?.name ?? 'Someone'}, ${when(c.createdAt)}`),
        h('p', { class: 'body prewrap' }, c.body))))
      : h('p', { class: 'body' }, 'No notes yet.'),
    form,
  ];
}

// --- evidence files ------------------------------------------------------------------

// Kept across re-renders, so files being uploaded survive another change on the page.
let picker = null;
let pickerGroup = null;

const KINDS_OF_FILE = {
  'image/jpeg': 'JPEG photo',
  'image/png': 'PNG image',
  'image/webp': 'WebP image',
  'image/gif': 'GIF image',
  'application/pdf': 'PDF document',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'Word document',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 'Excel spreadsheet',
  'application/vnd.openxmlformats-officedocument.presentationml.presentation': 'PowerPoint presentation',
};

const REMOVE_WORDS = { 'reason|BLANK': 'Give the reason for removing the file' };

/** What can be done with one file, by its status. */
function fileState(a) {
  switch (a.status) {
    case 'AWAITING_SCAN':
      return h('p', { class: 'file-list__state' }, 'It can be downloaded once it has been checked for viruses.');
    case 'INFECTED':
      return h('p', { class: 'file-list__state' }, 'The virus scanner found something harmful in it: it cannot be downloaded.');
    case 'REMOVED':
      return h('p', { class: 'file-list__state' }, `Removed${a.removedAt ? ` on ${when(a.removedAt)}` : ''}${a.removalReason ? `: ${a.removalReason}` : '.'}`);
    case 'DISPOSED':
      return h('p', { class: 'file-list__state' }, 'Disposed of at the end of its retention period.');
    default:
      return null;
  }
}

function downloadButton(a, status) {
  const b = h('button', { class: 'button button--secondary button--small', type: 'button' },
    'Download', h('span', { class: 'visually-hidden' }, ` ${a.fileName}`));
  b.addEventListener('click', async () => {
    errors.clear(summary, root);
    try {
      await downloadFile({ url: a.downloadUrl, name: a.fileName, button: b, status });
    } catch (err) {
      if (!(err instanceof ApiError || err instanceof NetworkError)) throw err;
      errors.show(summary, null, errors.problemsOf(err));
    }
  });
  return b;
}

/** A folded form to remove a file, with the reason it needs. */
function removeForm(a) {
  const id = `remove-${a.id}`;
  const form = h('form', { id: `${id}-form`, method: 'post', novalidate: true },
    textGroup({ field: 'reason', id: `${id}-reason`, label: `Why is ${a.fileName} being removed?`, hint: 'Kept with the incident and in its history. The file can no longer be downloaded.', rows: 2 }),
    button('Remove the file', { secondary: true }));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const reason = form.elements.reason.value.trim();
    const show = (list) => errors.show(summary, form, list, { describe: (p) => wordsFor(p, REMOVE_WORDS) });
    if (!reason) return show([problem('reason', 'BLANK', 'reason must not be blank')]);
    errors.clear(summary, root);
    $('#done').hidden = true;
    try {
      await gql(`mutation($input: RemoveAttachmentInput!) { removeAttachment(input: $input) { attachment { id status removalReason } } }`,
        { input: { attachmentId: a.id, reason } });
    } catch (err) {
      if (!(err instanceof ApiError || err instanceof NetworkError)) throw err;
      show(errors.problemsOf(err));
      return;
    }
    await load();
    done(`${a.fileName} is removed.`);
  });
  return h('details', { class: 'details file-list__remove' },
    h('summary', { class: 'details__summary' }, h('span', { class: 'details__summary-text' }, 'Remove this file', h('span', { class: 'visually-hidden' }, `: ${a.fileName}`))),
    h('div', { class: 'details__text' }, form));
}

function attachedFile(a, mayRemove, status) {
  const kind = KINDS_OF_FILE[a.contentType] ?? a.contentType;
  const gone = a.status === 'REMOVED' || a.status === 'DISPOSED';
  return h('li', { class: ['file-list__item', a.status === 'AVAILABLE' && 'file-list__item--done', a.status === 'INFECTED' && 'file-list__item--error'] },
    h('p', { class: 'file-list__name' }, a.fileName, ' ', tag(ATTACHMENT_STATUSES[a.status] ?? a.status, attachmentTone(a.status))),
    h('p', { class: 'file-list__meta' }, [kind, bytes(a.size), a.uploadedAt && `added ${when(a.uploadedAt)}`].filter(Boolean).join(' · ')),
    fileState(a),
    a.status === 'AVAILABLE' && a.downloadUrl ? h('div', { class: 'file-list__actions' }, downloadButton(a, status)) : null,
    mayRemove && !gone ? removeForm(a) : null);
}

/** The form that attaches more files: the picker, then one button for all of them. */
function attachForm(i, count) {
  if (!picker) {
    const limits = rules ? ` ${attachmentRulesInWords(rules, { record: 'incident' })}` : '';
    pickerGroup = fileGroup({ id: 'attach-files', label: 'Add photos or documents', hint: `Each file is uploaded as soon as you choose it, then attached when you press the button.${limits}` });
    picker = filePicker(pickerGroup, { rules, already: count, record: 'incident' });
  } else {
    picker.setRules(rules, count);
  }
  const form = h('form', { id: 'attach-form', method: 'post', novalidate: true },
    pickerGroup, button('Attach the files', { secondary: true, id: 'attach-submit' }));
  const submit = form.querySelector('#attach-submit');
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (submit.getAttribute('aria-disabled') === 'true') return;
    errors.clear(summary, root);
    if (picker.busy()) {
      submit.setAttribute('aria-disabled', 'true');
      submit.textContent = 'Waiting for the files to upload…';
      await picker.settled();
      submit.removeAttribute('aria-disabled');
      submit.textContent = 'Attach the files';
    }
    const failed = picker.failed();
    if (failed.length) {
      return problems(form, failed.map((name) => problem('attachmentIds', 'NOT_UPLOADED', `Remove ${name} from the list, or choose it again: it was not uploaded`)));
    }
    const ids = picker.ids();
    if (!ids.length) return problems(form, [problem('attachmentIds', 'BLANK', 'Choose the files to attach')]);
    // Once attached, the files are in the list above, no longer waiting in the picker.
    const attached = await change(form, `mutation($input: AttachFilesInput!) { attachFiles(input: $input) { attachments { id } } }`,
      { input: { recordId: i.id, attachmentIds: ids } },
      () => `${ids.length === 1 ? 'The file is' : `${ids.length} files are`} attached.`);
    if (attached) picker.clear();
  });
  return form;
}

/**
 * The files on the incident. Those who handle it may add and remove files; its reporter may
 * add them until it is closed (the server's rule: it refuses anyone else).
 */
function evidence(i, { handles, reporter }) {
  const list = i.attachments ?? [];
  const status = h('div', { class: 'visually-hidden', id: 'attachments-download-status', role: 'status', 'aria-live': 'polite' });
  const counted = list.filter((a) => a.status !== 'REMOVED' && a.status !== 'DISPOSED').length;
  return h('div', { 'data-field': 'attachments' },
    h('h2', { id: 'attachments-title' }, 'Photos and documents'),
    list.length && rules && !rules.scanned
      ? h('p', { class: 'body' }, 'These files were not checked for viruses: open them with the care you would give an email attachment.')
      : null,
    list.length
      ? h('ul', { class: 'file-list', 'aria-labelledby': 'attachments-title' }, list.map((a) => attachedFile(a, handles, status)))
      : h('p', { class: 'body' }, 'None attached.'),
    status,
    handles || (reporter && !isFinal(i.status)) ? attachForm(i, counted) : null);
}

const ACTIONS = {
  'incident.reported': 'Reported',
  'incident.triaged': 'Review updated',
  'incident.transitioned': 'Moved',
  'incident.commented': 'Note added',
  'incident.candour_step_recorded': 'Duty of candour step recorded',
  'attachment.added': 'Files attached',
  'attachment.removed': 'File removed',
  'attachment.infected': 'File refused by the virus scanner',
};

/** One change of a history event, in words (files by how many, not by their ids). */
function changeInWords(c) {
  if (c.sensitive) return `${c.field}: changed (not shown)`;
  if (c.field === 'attachments' && Array.isArray(c.after)) return `${c.after.length} ${c.after.length === 1 ? 'file' : 'files'} added`;
  if (c.field === 'attachment') {
    if (c.after == null) return 'a file removed';
    return c.after.malware ? `malware found: ${c.after.malware}` : 'a file changed';
  }
  return `${c.field}: ${value(c.before)} → ${value(c.after)}`;
}

function value(v) {
  if (v == null) return 'nothing';
  if (typeof v === 'string') return statusLabel(v);
  return JSON.stringify(v);
}

function history(i) {
  return [
    h('h2', {}, 'History'),
    h('ol', { class: 'timeline' }, i.history.map((e) => h('li', { class: 'timeline__item' },
      h('p', { class: 'timeline__title' }, `${ACTIONS[e.action] ?? e.action}`),
      h('p', { class: 'timeline__meta' }, `${when(e.at)}, by ${e.actor?.name ?? e.actorLabel ?? 'an anonymous reporter'}`),
      e.changes.length ? h('ul', { class: 'timeline__changes' }, e.changes
        .filter((c) => c.field !== 'version')
        .map((c) => h('li', {}, changeInWords(c)))) : null))),
  ];
}

function render(i, staffId) {
  $('#caption').textContent = i.reference;
  $('#page-title').textContent = i.title;
  document.title = `${i.reference}: ${i.title} – Candour`;
  const internal = i.comments !== null;
  const manages = internal && (i.allowedTransitions.length > 0 || !isFinal(i.status));
  replace(root,
    facts(i),
    narrative(i),
    internal ? patient() : null,
    learning(i),
    i.attachments ? evidence(i, { handles: internal, reporter: Boolean(staffId) && i.reporter?.id === staffId }) : null,
    i.allowedTransitions.length ? moves(i) : null,
    manages && !isFinal(i.status) ? triage(i, staffId) : null,
    internal ? candour(i) : null,
    internal ? actions(i) : null,
    internal ? notes(i) : null,
    history(i));
  root.setAttribute('aria-busy', 'false');
}

async function load() {
  try {
    const data = await gql(LOAD, { ref: reference });
    incident = data.incidentByReference;
    rules = data.attachmentRules;
    render(incident, data.me.staff?.id);
  } catch (err) {
    if (err instanceof ApiError && err.code === 'NOT_FOUND') {
      $('#page-title').textContent = 'Incident not found';
      replace(root, h('p', { class: 'body' }, `There is no incident ${reference} that you can see.`));
      root.setAttribute('aria-busy', 'false');
      return;
    }
    errors.show(summary, null, errors.problemsOf(err));
  }
}

me = start();
if (me) load();
