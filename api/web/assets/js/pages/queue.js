// The handler's and quality lead's work queue: incidents waiting for triage and under
// review, and corrective actions overdue or due soon, in the viewer's departments (all of
// them for a quality lead).
import { start } from '../lib/layout.js';
import { gql } from '../lib/api.js';
import { $, h, replace, tag } from '../lib/dom.js';
import { label, statusLabel, statusTone, ACTION_STATUSES } from '../lib/labels.js';
import { ago, day, todayIso, addDays } from '../lib/format.js';
import { table } from '../lib/forms.js';
import * as errors from '../lib/errors.js';
import { mountSearch } from '../lib/search-box.js';
import { downloadCsv } from '../lib/export.js';

const INCIDENT_FIELDS = `fragment QueueIncident on Incident {
  reference title status kind physicalHarm nearMiss reportedAt department { name }
}`;
const ACTION_FIELDS = `fragment QueueAction on CorrectiveAction {
  id title status dueDate overdue ownerEmail owner { name } department { name }
  source { __typename ... on Incident { reference } ... on AuditFinding { criterion } ... on ImprovementProject { title } }
}`;

/**
 * One query with the same list per department (aliases d0, d1…), or once unfiltered for a
 * quality lead. `filter` is the rest of the filter, as GraphQL input text.
 */
function perDepartment(field, departments, filter, selection) {
  const vars = {};
  const lists = departments.map((id, i) => {
    if (id) vars[`d${i}`] = id;
    const dept = id ? `, departmentId: $d${i}` : '';
    return `d${i}: ${field}(first: 25, filter: { ${filter}${dept} }) { totalCount edges { node { ${selection} } } }`;
  });
  const decl = Object.keys(vars).map((k) => `$${k}: ID!`).join(', ');
  return { query: `query${decl ? `(${decl})` : ''} { ${lists.join('\n')} }`, vars };
}

async function fetchLists(field, departments, filter, selection, fragment) {
  const { query, vars } = perDepartment(field, departments, filter, selection);
  const data = await gql(`${query}\n${fragment}`, vars);
  const nodes = Object.values(data).flatMap((c) => c.edges.map((e) => e.node));
  const total = Object.values(data).reduce((n, c) => n + c.totalCount, 0);
  return { nodes, total };
}

function harm(i) {
  return i.nearMiss ? 'Near miss' : label('physicalHarm', i.physicalHarm);
}

function incidentTable(caption, list, withStatus) {
  const head = ['Reference', 'Summary', 'Department', 'Kind', 'Harm', withStatus ? 'Status' : 'Reported'];
  return table({
    caption,
    captionHidden: true,
    head,
    rows: list.map((i) => [
      h('a', { href: `/incidents/${i.reference}` }, i.reference),
      i.title,
      i.department.name,
      label('kind', i.kind),
      harm(i),
      withStatus ? tag(statusLabel(i.status), statusTone(i.status)) : ago(i.reportedAt),
    ]),
  });
}

function sourceOf(a) {
  const s = a.source;
  if (!s) return '';
  if (s.__typename === 'Incident') return h('a', { href: `/incidents/${s.reference}` }, s.reference);
  if (s.__typename === 'AuditFinding') return `Audit: ${s.criterion}`;
  return `Project: ${s.title}`;
}

function actionTable(caption, list) {
  return table({
    caption,
    captionHidden: true,
    head: ['Action', 'Due', 'Owner', 'Status', 'Raised from', 'Department'],
    rows: list.map((a) => [
      h('a', { href: `/actions/${encodeURIComponent(a.id)}` }, a.title),
      a.overdue ? h('span', {}, day(a.dueDate), ' ', tag('Overdue', 'red')) : day(a.dueDate),
      a.owner?.name ?? a.ownerEmail,
      ACTION_STATUSES[a.status] ?? a.status,
      sourceOf(a),
      a.department.name,
    ]),
  });
}

function section(box, caption, { nodes, total }, render, empty) {
  if (!nodes.length) {
    replace(box, h('p', { class: 'body' }, empty));
    return;
  }
  replace(box,
    h('p', { class: 'body' }, total > nodes.length ? `${nodes.length} of ${total} shown.` : `${total} in all.`),
    render(caption, nodes));
}

// What the queue shows, as export filters: the incidents of its two incident lists, and the
// actions of its two action lists (overdue, and due within 14 days: open ones due before
// the day after that), one filter per department as the lists are read.
const QUEUE_INCIDENTS = ['REPORTED', 'UNDER_REVIEW', 'INVESTIGATING', 'ACTIONS_IN_PROGRESS'];

function perDepartmentFilters(departments, filter) {
  return departments.map((id) => (id ? { ...filter, departmentId: id } : { ...filter }));
}

function exportButtons(departments, soon, summary) {
  const status = $('#export-status');
  const run = async (button, list, what, filter, orderBy) => {
    errors.clear(summary, null);
    try {
      await downloadCsv({ list, filters: perDepartmentFilters(departments, filter), orderBy, button, status, what });
    } catch (err) {
      errors.show(summary, null, errors.problemsOf(err));
    }
  };
  const incidents = $('#export-incidents');
  const actions = $('#export-actions');
  incidents.addEventListener('click', () => run(incidents, 'incidents', 'incidents', { status: QUEUE_INCIDENTS },
    { field: 'REPORTED_AT', direction: 'ASC' }));
  actions.addEventListener('click', () => run(actions, 'corrective-actions', 'actions',
    { status: ['OPEN', 'IN_PROGRESS'], dueBefore: soon }, { field: 'DUE_DATE', direction: 'ASC' }));
  incidents.disabled = false;
  actions.disabled = false;
}

async function main() {
  const me = start({ reviewer: true });
  if (!me) return;
  const summary = $('#error-summary');
  mountSearch(summary);
  let departments;
  try {
    const data = await gql('{ me { departments { id name } } }');
    departments = me.qualityLead ? [null] : data.me.departments.map((d) => d.id);
    $('#scope').textContent = me.qualityLead
      ? 'Incidents and actions in every department (you are a quality lead).'
      : `Incidents and actions in ${data.me.departments.map((d) => d.name).join(', ') || 'no department Candour knows'}.`;
  } catch (err) {
    return errors.show(summary, null, errors.problemsOf(err));
  }
  if (!departments.length) {
    for (const id of ['#awaiting', '#review', '#overdue', '#due']) {
      replace($(id), h('p', { class: 'body' }, 'Your sign-in names no department that Candour knows.'));
    }
    return;
  }
  const byAge = (a, b) => a.reportedAt.localeCompare(b.reportedAt);
  const byDue = (a, b) => a.dueDate.localeCompare(b.dueDate);
  const soon = addDays(todayIso(), 15);
  exportButtons(departments, soon, summary);
  const jobs = [
    fetchLists('incidents', departments, 'status: [REPORTED]', '...QueueIncident', INCIDENT_FIELDS).then((r) => {
      r.nodes.sort(byAge);
      section($('#awaiting'), 'Incidents waiting for triage, oldest first', r, (c, n) => incidentTable(c, n, false), 'Nothing is waiting for triage.');
    }),
    fetchLists('incidents', departments, 'status: [UNDER_REVIEW, INVESTIGATING, ACTIONS_IN_PROGRESS]', '...QueueIncident', INCIDENT_FIELDS).then((r) => {
      r.nodes.sort(byAge);
      section($('#review'), 'Incidents under review, oldest first', r, (c, n) => incidentTable(c, n, true), 'No incident is under review.');
    }),
    fetchLists('correctiveActions', departments, 'overdue: true', '...QueueAction', ACTION_FIELDS).then((r) => {
      r.nodes.sort(byDue);
      section($('#overdue'), 'Overdue corrective actions, longest overdue first', r, actionTable, 'No action is overdue.');
    }),
    fetchLists('correctiveActions', departments, `overdue: false, status: [OPEN, IN_PROGRESS], dueBefore: "${soon}"`, '...QueueAction', ACTION_FIELDS).then((r) => {
      r.nodes.sort(byDue);
      section($('#due'), 'Corrective actions due in the next 14 days', r, actionTable, 'No action is due in the next 14 days.');
    }),
  ];
  const failed = (await Promise.allSettled(jobs)).filter((r) => r.status === 'rejected');
  if (failed.length) errors.show(summary, null, errors.problemsOf(failed[0].reason));
}

main();
