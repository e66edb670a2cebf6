// One corrective action: what it is, who owns it, and the moves this viewer may make.
import { start } from '../lib/layout.js';
import { gql, ApiError, NetworkError } from '../lib/api.js';
import { $, h, replace, summaryList, tag, focus } from '../lib/dom.js';
import { ACTION_STATUSES, ACTION_MOVES, PRIORITIES } from '../lib/labels.js';
import { when, day } from '../lib/format.js';
import { textGroup, radioGroup, button } from '../lib/forms.js';
import * as errors from '../lib/errors.js';
import { problem, asSentence } from '../lib/validate.js';

const id = decodeURIComponent(window.location.pathname.split('/')[2] ?? '');
const summary = $('#error-summary');
const root = $('#action');

const LOAD = `query Action($id: ID!) { node(id: $id) { ... on CorrectiveAction {
  id title description status version priority dueDate overdue ownerEmail owner { name }
  department { name } note effective verificationNote cancellationReason allowedTransitions
  completedAt verifiedAt createdAt
  source { __typename ... on Incident { reference title } ... on AuditFinding { criterion audit { id title } } ... on ImprovementProject { title } }
  followUp { id title } followUpOf { id title }
  history { at action actorLabel actor { name } changes { field before after sensitive } }
} } }`;

const WORDS = {
  'status|BLANK': 'Choose what has happened to the action',
  'effective|BLANK': 'Say whether the action fixed the problem',
  'note|BLANK': 'Give the reason for cancelling it',
};
const describe = (p) => WORDS[`${p.field}|${p.reason}`] ?? asSentence(p.message);

function source(a) {
  const s = a.source;
  if (!s) return null;
  if (s.__typename === 'Incident') return h('a', { href: `/incidents/${s.reference}` }, `${s.reference}: ${s.title}`);
  if (s.__typename === 'AuditFinding') return h('a', { href: `/audits/${encodeURIComponent(s.audit.id)}` }, `${s.audit.title}: ${s.criterion}`);
  return `Improvement project: ${s.title}`;
}

function render(a) {
  $('#page-title').textContent = a.title;
  document.title = `${a.title} – Candour`;
  const parts = [
    summaryList([
      ['Status', h('span', {}, ACTION_STATUSES[a.status] ?? a.status, a.overdue ? [' ', tag('Overdue', 'red')] : null)],
      ['Due', day(a.dueDate)],
      ['Priority', PRIORITIES[a.priority] ?? a.priority],
      ['Owner', a.owner?.name ? `${a.owner.name} (${a.ownerEmail})` : a.ownerEmail],
      ['Department', a.department.name],
      ['Raised from', source(a)],
      ['Description', a.description],
      ['Latest note', a.note],
      ['Effective', a.effective == null ? null : a.effective ? 'Yes' : 'No'],
      ['Verification note', a.verificationNote],
      ['Cancelled because', a.cancellationReason],
      ['Follow-up action', a.followUp ? h('a', { href: `/actions/${encodeURIComponent(a.followUp.id)}` }, a.followUp.title) : null],
      ['Follows up', a.followUpOf ? h('a', { href: `/actions/${encodeURIComponent(a.followUpOf.id)}` }, a.followUpOf.title) : null],
      ['Raised', when(a.createdAt)],
    ]),
  ];
  if (a.allowedTransitions.length) {
    const form = h('form', { id: 'action-update-form', method: 'post', novalidate: true },
      radioGroup({ field: 'status', legend: 'What has happened?', options: a.allowedTransitions.map((s) => [s, ACTION_MOVES[s] ?? ACTION_STATUSES[s]]) }),
      a.allowedTransitions.includes('VERIFIED')
        ? radioGroup({ field: 'effective', legend: 'When verifying: did it fix the problem?', hint: 'If not, a follow-up action is raised.', options: [['yes', 'Yes, it was effective'], ['no', 'No, it was not effective']] })
        : null,
      textGroup({ field: 'note', label: 'Note', hint: 'Progress, what was done, or why it is cancelled.', rows: 3 }),
      button('Save'));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const fd = new FormData(form);
      const status = fd.get('status');
      const note = (fd.get('note') ?? '').trim();
      const p = [];
      if (!status) p.push(problem('status', 'BLANK', 'status is required'));
      if (status === 'VERIFIED' && !fd.get('effective')) p.push(problem('effective', 'BLANK', 'verifying an action needs a verdict on its effectiveness'));
      if (status === 'CANCELLED' && !note) p.push(problem('note', 'BLANK', 'cancelling an action needs a reason (note)'));
      if (p.length) return errors.show(summary, root, p, { describe });
      const input = { actionId: a.id, expectedVersion: a.version, status, note: note || undefined };
      if (status === 'VERIFIED') input.effective = fd.get('effective') === 'yes';
      errors.clear(summary, root);
      try {
        await gql(`mutation($input: UpdateCorrectiveActionInput!) { updateCorrectiveAction(input: $input) { correctiveAction { status } } }`, { input });
      } catch (err) {
        if (!(err instanceof ApiError || err instanceof NetworkError)) throw err;
        if (err.code === 'CONFLICT') await load();
        return errors.show(summary, root, errors.problemsOf(err), { describe });
      }
      const updated = await load();
      const el = $('#done');
      el.textContent = `The action is now: ${ACTION_STATUSES[updated?.status] ?? 'saved'}.`;
      el.hidden = false;
      focus(el);
    });
    parts.push(h('h2', {}, 'Update the action'), form);
  }
  parts.push(h('h2', {}, 'History'),
    h('ol', { class: 'timeline' }, a.history.map((e) => h('li', { class: 'timeline__item' },
      h('p', { class: 'timeline__title' }, e.action === 'corrective_action.created' ? 'Raised' : 'Updated'),
      h('p', { class: 'timeline__meta' }, `${when(e.at)}, by ${e.actor?.name ?? e.actorLabel ?? 'Candour'}`),
      h('ul', { class: 'timeline__changes' }, e.changes.filter((c) => c.field !== 'version').map((c) =>
        h('li', {}, c.sensitive ? `${c.field}: changed (not shown)` : `${c.field}: ${c.before ?? 'nothing'} → ${c.after ?? 'nothing'}`)))))));
  replace(root, parts);
  root.setAttribute('aria-busy', 'false');
}

async function load() {
  try {
    const data = await gql(LOAD, { id });
    if (!data.node || !data.node.title) {
      $('#page-title').textContent = 'Action not found';
      replace(root, h('p', { class: 'body' }, 'There is no such action that you can see.'));
      return null;
    }
    render(data.node);
    return data.node;
  } catch (err) {
    if (err instanceof ApiError && err.code === 'BAD_USER_INPUT') {
      $('#page-title').textContent = 'Action not found';
      replace(root, h('p', { class: 'body' }, 'This address does not name an action.'));
      return null;
    }
    errors.show(summary, null, errors.problemsOf(err));
    return null;
  }
}

if (start()) load();
