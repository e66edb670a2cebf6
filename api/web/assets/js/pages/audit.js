// One audit: its standard, its findings per criterion (compliance against target, and the
// change since the audit it repeats), and the actions raised from its non-conformities.
import { start } from '../lib/layout.js';
import { gql, ApiError } from '../lib/api.js';
import { $, h, replace, summaryList, tag } from '../lib/dom.js';
import { AUDIT_STATUSES, ACTION_STATUSES } from '../lib/labels.js';
import { day, percent, number } from '../lib/format.js';
import { table } from '../lib/forms.js';
import * as errors from '../lib/errors.js';

const id = decodeURIComponent(window.location.pathname.split('/')[2] ?? '');
const root = $('#audit');

const LOAD = `query Audit($id: ID!) { node(id: $id) { ... on Audit {
  id title standard plannedStart plannedEnd status leadEmail department { name }
  reauditOf { id title }
  findings { criterion targetPercent sampleSize compliantCount compliancePercent nonConformity
    previousCompliancePercent complianceChange correctiveActions { id title status } }
} } }`;

function change(f) {
  if (f.complianceChange == null) return '–';
  const n = f.complianceChange;
  return `${n > 0 ? '+' : ''}${number(n, 1)} points`;
}

async function main() {
  if (!start()) return;
  let a;
  try {
    a = (await gql(LOAD, { id })).node;
  } catch (err) {
    if (!(err instanceof ApiError && err.code === 'BAD_USER_INPUT')) {
      errors.show($('#error-summary'), null, errors.problemsOf(err));
      return;
    }
  }
  if (!a?.title) {
    $('#page-title').textContent = 'Audit not found';
    replace(root, h('p', { class: 'body' }, 'There is no such audit.'));
    return;
  }
  $('#page-title').textContent = a.title;
  document.title = `${a.title} – Candour`;
  replace(root,
    summaryList([
      ['Status', AUDIT_STATUSES[a.status] ?? a.status],
      ['Department', a.department.name],
      ['Standard', a.standard],
      ['Planned', `${day(a.plannedStart)} to ${day(a.plannedEnd)}`],
      ['Lead', a.leadEmail],
      ['Repeats', a.reauditOf ? h('a', { href: `/audits/${encodeURIComponent(a.reauditOf.id)}` }, a.reauditOf.title) : null],
    ]),
    h('h2', {}, 'Findings'),
    a.findings.length
      ? table({
        caption: 'Compliance by criterion',
        head: ['Criterion', 'Compliance', 'Target', 'Sample', 'Since last cycle', 'Actions'],
        numeric: [1, 2, 3],
        rows: a.findings.map((f) => [
          f.criterion,
          h('span', {}, percent(f.compliancePercent), f.nonConformity ? [' ', tag('Below target', 'red')] : null),
          percent(f.targetPercent),
          `${f.compliantCount} of ${f.sampleSize}`,
          change(f),
          f.correctiveActions.length
            ? h('ul', { class: 'list list--plain' }, f.correctiveActions.map((c) =>
              h('li', {}, h('a', { href: `/actions/${encodeURIComponent(c.id)}` }, c.title), ` (${ACTION_STATUSES[c.status] ?? c.status})`)))
            : f.nonConformity ? 'None yet: needed before the audit closes' : '–',
        ]),
      })
      : h('p', { class: 'body' }, 'No findings recorded yet.'));
  root.setAttribute('aria-busy', 'false');
}

main();
