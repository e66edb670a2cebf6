// The signed-in reporter's own named reports: status, and the learning fed back.
import { start } from '../lib/layout.js';
import { gql } from '../lib/api.js';
import { $, h, replace, tag } from '../lib/dom.js';
import { label, statusLabel, statusTone as tone } from '../lib/labels.js';
import { when } from '../lib/format.js';
import * as errors from '../lib/errors.js';

const QUERY = `query MyReports {
  incidents(first: 50, filter: { mine: true }) {
    totalCount
    edges { node {
      reference title status kind reportedAt closedAt statusReason
      department { name }
      learningSummary feedbackToReporter
    } }
  }
}`;

function card(i) {
  return h('li', { class: 'report-card' },
    h('h2', { class: 'report-card__title' }, h('a', { href: `/incidents/${i.reference}` }, i.title)),
    h('p', { class: 'report-card__meta' }, `${i.reference} · ${i.department.name} · ${label('kind', i.kind)} · reported ${when(i.reportedAt)}`),
    h('p', { class: 'report-card__status' }, 'Status: ', tag(statusLabel(i.status), tone(i.status)),
      i.status === 'DECLINED' && i.statusReason ? ` (${i.statusReason})` : null),
    h('h3', { class: 'report-card__heading' }, 'What was learned'),
    h('p', { class: 'report-card__text' }, i.learningSummary ?? 'Nothing yet. It will be here once the review has found it.'),
    h('h3', { class: 'report-card__heading' }, 'Feedback to you'),
    h('p', { class: 'report-card__text' }, i.feedbackToReporter ?? 'No feedback yet.'));
}

async function main() {
  const me = start();
  if (!me) return;
  const box = $('#reports');
  try {
    const data = await gql(QUERY);
    const list = data.incidents.edges.map((e) => e.node);
    if (!list.length) {
      replace(box, h('p', { class: 'body' }, 'You have not reported anything with your name yet. ', h('a', { href: '/report' }, 'Report an incident'), '.'));
      return;
    }
    replace(box,
      h('p', { class: 'body' }, data.incidents.totalCount > list.length
        ? `The ${list.length} newest of your ${data.incidents.totalCount} reports.`
        : `${list.length} report${list.length === 1 ? '' : 's'}, newest first.`),
      h('ul', { class: 'report-list' }, list.map(card)));
  } catch (err) {
    replace(box);
    errors.show($('#error-summary'), null, errors.problemsOf(err));
  }
}

main();
