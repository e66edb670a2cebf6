// The quality dashboard: incidents over time and by kind, harm and department; how fast
// they are triaged and closed; corrective actions; audit compliance by criterion over its
// cycles; improvement measures as run charts. One `dashboard` query feeds it all.
import { start } from '../lib/layout.js';
import { gql } from '../lib/api.js';
import { $, h, replace } from '../lib/dom.js';
import { columnChart, barChart, lineChart, runChart } from '../lib/charts.js';
import { month, number, percent, hours, shortDay, day, addDays } from '../lib/format.js';
import { table } from '../lib/forms.js';
import * as errors from '../lib/errors.js';
import { downloadCsv } from '../lib/export.js';

export const DASHBOARD = `query Dashboard($filter: DashboardFilter) {
  dashboard(filter: $filter) {
    from to
    departments { id code name }
    byKind: incidentCounts(interval: MONTH, splitBy: KIND) {
      total totals { key label count }
      buckets { start end total split { key label count } }
    }
    byHarm: incidentCounts(interval: MONTH, splitBy: PHYSICAL_HARM) { total totals { key label count } }
    byDepartment: incidentCounts(interval: MONTH, splitBy: DEPARTMENT) { total totals { key label count } }
    nearMisses: incidentCounts(interval: MONTH, splitBy: NEAR_MISS) { totals { key label count } }
    reportedVsClosed { start end reported closed }
    timeToTriage { count medianHours p90Hours }
    timeToClose { count medianHours p90Hours }
    openIncidentsByAge { label minDays maxDays count }
    correctiveActions {
      open overdue completed completedOnTime completedOnTimePercent verified verifiedEffective effectivenessVerifiedPercent
      byDepartment { department { name } open overdue completed completedOnTimePercent verified effectivenessVerifiedPercent }
    }
    auditCompliance {
      title department { name }
      cycles { id title plannedStart }
      criteria { criterion points { auditId plannedStart compliancePercent targetPercent nonConformity } }
    }
    nonConformitiesOpen
    improvementMeasures {
      project { id title }
      measure {
        id name unit target betterWhen
        measurements { at value }
        spc { mean upperProcessLimit lowerProcessLimit fewPoints variation assurance points { at value rules specialCause } }
      }
    }
  }
}`;

const HARM_ORDER = ['NONE', 'LOW', 'MODERATE', 'SEVERE', 'FATAL'];

function tile(label, value, note) {
  return h('li', { class: 'figure-tile' },
    h('span', { class: 'figure-tile__label' }, label),
    h('span', { class: 'figure-tile__value' }, value),
    note ? h('span', { class: 'figure-tile__note' }, note) : null);
}

function section(title, ...children) {
  const id = `s-${title.toLowerCase().replace(/[^a-z]+/g, '-')}`;
  return h('section', { class: 'dashboard__section', 'aria-labelledby': id }, h('h2', { id }, title), ...children);
}

function keyFigures(d) {
  const a = d.correctiveActions;
  const nm = d.nearMisses.totals.find((t) => t.key === 'true')?.count ?? 0;
  return h('ul', { class: 'figure-tiles' },
    tile('Incidents reported', number(d.byKind.total), `${number(nm)} near misses`),
    tile('Median time to triage', hours(d.timeToTriage.medianHours), `${number(d.timeToTriage.count)} triaged; 90% within ${hours(d.timeToTriage.p90Hours)}`),
    tile('Median time to close', hours(d.timeToClose.medianHours), `${number(d.timeToClose.count)} closed`),
    tile('Open actions', number(a.open), `${number(a.overdue)} overdue`),
    tile('Actions completed on time', percent(a.completedOnTimePercent), `${number(a.completedOnTime)} of ${number(a.completed)}`),
    tile('Verified effective', percent(a.effectivenessVerifiedPercent), `${number(a.verifiedEffective)} of ${number(a.verified)} verified`),
    tile('Open non-conformities', number(d.nonConformitiesOpen), 'audit findings below target'));
}

function incidents(d) {
  const buckets = d.byKind.buckets;
  const kinds = d.byKind.totals.filter((t) => t.count > 0);
  const months = buckets.map((b) => month(b.start));
  const series = kinds.map((k) => ({ name: k.label, values: buckets.map((b) => b.split.find((x) => x.key === k.key)?.count ?? 0) }));
  const harm = [...d.byHarm.totals].sort((a, b) => HARM_ORDER.indexOf(a.key) - HARM_ORDER.indexOf(b.key));
  const depts = [...d.byDepartment.totals].sort((a, b) => b.count - a.count);
  return section('Incidents',
    columnChart({
      title: 'Incidents reported by month, by kind',
      description: `${number(d.byKind.total)} incidents from ${month(d.from)} to ${month(d.to)}.`,
      categories: months,
      series: series.length ? series : [{ name: 'Incidents', values: buckets.map((b) => b.total) }],
      stacked: true,
      legend: series.length > 0,
      tableHead: ['Month', ...(series.length ? series.map((x) => x.name) : ['Incidents']), ...(series.length > 1 ? ['Total'] : [])],
    }),
    h('div', { class: 'chart-pair' },
      barChart({ title: 'Incidents by physical harm', categories: harm.map((t) => t.label), values: harm.map((t) => t.count), valueHead: 'Incidents' }),
      barChart({ title: 'Incidents by department', categories: depts.map((t) => t.label), values: depts.map((t) => t.count), valueHead: 'Incidents' })),
    lineChart({
      title: 'Incidents reported and closed, by month',
      labels: d.reportedVsClosed.map((b) => month(b.start)),
      series: [
        { name: 'Reported', values: d.reportedVsClosed.map((b) => b.reported) },
        { name: 'Closed', values: d.reportedVsClosed.map((b) => b.closed) },
      ],
      yMin: 0,
      integer: true,
    }),
    barChart({
      title: 'Open incidents by days since reported',
      description: 'All incidents open now, whatever the period chosen.',
      categories: d.openIncidentsByAge.map((b) => b.label),
      values: d.openIncidentsByAge.map((b) => b.count),
      valueHead: 'Open incidents',
    }));
}

function actions(d) {
  const rows = d.correctiveActions.byDepartment.map((r) => [
    r.department?.name ?? '–', number(r.open), number(r.overdue), number(r.completed), percent(r.completedOnTimePercent),
    number(r.verified), percent(r.effectivenessVerifiedPercent),
  ]);
  rows.forEach((r) => { r.rowHeader = true; });
  return section('Corrective actions',
    rows.length
      ? table({
        caption: 'Corrective actions by department',
        head: ['Department', 'Open', 'Overdue', 'Completed', 'On time', 'Verified', 'Effective'],
        numeric: [1, 2, 3, 4, 5, 6],
        rows,
      })
      : h('p', { class: 'body' }, 'No corrective actions in this period.'));
}

function audits(d) {
  if (!d.auditCompliance.length) return section('Audit compliance', h('p', { class: 'body' }, 'No audits with findings in this period.'));
  return section('Audit compliance',
    d.auditCompliance.map((a) => {
      const cycles = a.cycles;
      const labels = cycles.map((c) => day(c.plannedStart));
      const series = a.criteria.map((c) => ({
        name: c.criterion,
        values: cycles.map((cy) => c.points.find((p) => p.auditId === cy.id)?.compliancePercent ?? null),
      }));
      const targets = [...new Set(a.criteria.flatMap((c) => c.points.map((p) => p.targetPercent)))];
      return lineChart({
        title: `${a.title} (${a.department.name}): compliance by criterion, cycle by cycle`,
        description: `${cycles.length} cycle${cycles.length === 1 ? '' : 's'}, oldest first.`,
        labels,
        series,
        refs: targets.length === 1 ? [{ name: `Target ${targets[0]}%`, short: 'Target', value: targets[0], kind: 'target' }] : [],
        yMin: 0,
        yMax: 100,
        unit: '%',
        format: (v) => number(v, 1),
        table: {
          caption: `${a.title}: compliance by criterion`,
          head: ['Criterion', ...labels.map((l, i) => `${cycles[i].title} (${l})`)],
          rows: a.criteria.map((c) => [c.criterion, ...cycles.map((cy) => {
            const p = c.points.find((x) => x.auditId === cy.id);
            return p ? `${number(p.compliancePercent, 1)}% (target ${number(p.targetPercent, 1)}%${p.nonConformity ? ', below target' : ''})` : '–';
          })]),
        },
      });
    }));
}

function measures(d) {
  if (!d.improvementMeasures.length) return section('Improvement measures', h('p', { class: 'body' }, 'No active improvement project has measures yet.'));
  return section('Improvement measures',
    d.improvementMeasures.map(({ project, measure }) => (measure.measurements.length
      ? runChart({ title: `${project.title}: ${measure.name}`, measure, formatDate: (iso) => shortDay(iso.slice(0, 10)) })
      : h('p', { class: 'body' }, `${project.title}: ${measure.name}: no measurements yet.`))));
}

// What the dashboard shows now: its period and departments, for the export.
let shown = null;

/** The start of a local day (YYYY-MM-DD) as an instant: the dashboard counts local days. */
function startOfDay(isoDate) {
  const [y, m, d] = isoDate.split('-').map(Number);
  return new Date(y, m - 1, d).toISOString();
}

/**
 * The incidents the dashboard counts, as export filters: reported from the first day to the
 * end of the last, in the department chosen or, for a handler, each of theirs (a quality
 * lead's "all" is every department, one filter).
 */
function exportFilters({ d, filter, qualityLead }) {
  const period = { reportedAfter: startOfDay(d.from), reportedBefore: startOfDay(addDays(d.to, 1)) };
  if (qualityLead && !filter.departmentIds) return [period];
  return d.departments.map((x) => ({ ...period, departmentId: x.id }));
}

async function show(filter) {
  const box = $('#dashboard');
  box.setAttribute('aria-busy', 'true');
  const summary = $('#error-summary');
  errors.clear(summary, $('#dashboard-form'));
  let d;
  try {
    d = (await gql(DASHBOARD, { filter })).dashboard;
  } catch (err) {
    replace(box, h('p', { class: 'body' }, 'The figures could not be shown.'));
    errors.show(summary, $('#dashboard-form'), errors.problemsOf(err));
    return;
  }
  $('#from').value = d.from;
  $('#to').value = d.to;
  $('#dashboard-scope').textContent = `${day(d.from)} to ${day(d.to)}: ${d.departments.map((x) => x.name).join(', ') || 'no department'}.`;
  replace(box, keyFigures(d), incidents(d), actions(d), audits(d), measures(d));
  box.setAttribute('aria-busy', 'false');
  shown = { d, filter };
  $('#export').disabled = false;
}

async function main() {
  const me = start({ reviewer: true });
  if (!me) return;
  try {
    const data = await gql('{ departments { id name } me { departments { id name } } }');
    const choices = me.qualityLead ? data.departments : data.me.departments;
    $('#department').append(...choices.map((x) => h('option', { value: x.id }, x.name)));
  } catch (err) {
    errors.show($('#error-summary'), null, errors.problemsOf(err));
  }
  $('#dashboard-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const filter = {};
    if ($('#from').value) filter.from = $('#from').value;
    if ($('#to').value) filter.to = $('#to').value;
    if ($('#department').value) filter.departmentIds = [$('#department').value];
    if (filter.from && filter.to && filter.from > filter.to) {
      errors.show($('#error-summary'), $('#dashboard-form'), [{ field: 'from', message: 'The start date must be on or before the end date' }], { describe: (p) => p.message });
      return;
    }
    show(filter);
  });
  $('#print').addEventListener('click', () => window.print());
  $('#export').addEventListener('click', async () => {
    if (!shown) return;
    const summary = $('#error-summary');
    errors.clear(summary, null);
    try {
      await downloadCsv({
        list: 'incidents',
        filters: exportFilters({ ...shown, qualityLead: me.qualityLead }),
        orderBy: { field: 'REPORTED_AT', direction: 'ASC' },
        button: $('#export'),
        status: $('#export-status'),
        what: 'incidents',
      });
    } catch (err) {
      errors.show(summary, null, errors.problemsOf(err));
    }
  });
  show({});
}

main();
