// The dashboard. First its charts, drawn from a dashboard answer of known figures (the
// answer is given to the page in place of the server's, so each number can be checked):
// real SVG, a table for every chart, patterns and markers besides colour, readable at
// 360 px and in print. Then the real thing: a quality lead's dashboard counts the incident
// just reported through the form, and shows an audit and its re-audit, criterion by
// criterion, and the run chart of a measure, all recorded through the API.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, hospital } from '../lib/server.mjs';
import { join } from 'node:path';
import { launch, openPage, signIn, reportForm, assertAccessible, screenshots, outputDir } from '../lib/browser.mjs';

let server;
let h;
let browser;

before(async () => {
  server = await startServer();
  h = await hospital(server);
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const iso = (d) => d.toISOString().slice(0, 10);

/** A dashboard answer with twelve months of figures, shaped as the `dashboard` query returns it. */
function fixture() {
  const months = [];
  for (let i = 11; i >= 0; i--) {
    const start = new Date(Date.UTC(2026, 11 - i, 1));
    const end = new Date(Date.UTC(2026, 12 - i, 0));
    months.push({ start: iso(start), end: iso(end) });
  }
  const kinds = [['PATIENT_SAFETY', 'Patient safety'], ['EQUIPMENT', 'Equipment'], ['RADIATION', 'Radiation']];
  const buckets = months.map((m, i) => {
    const split = kinds.map(([key, label], k) => ({ key, label, count: (i + k * 2) % 5 }));
    return { ...m, total: split.reduce((a, s) => a + s.count, 0), split };
  });
  const total = buckets.reduce((a, b) => a + b.total, 0);
  const totals = kinds.map(([key, label], k) => ({ key, label, count: buckets.reduce((a, b) => a + b.split[k].count, 0) }));
  const dept = (id, code, name) => ({ id, code, name });
  const card = dept('RGVwYXJ0bWVudDox', 'CARD', 'Cardiology');
  const phys = dept('RGVwYXJ0bWVudDoy', 'PHYS', 'Medical Physics');
  const points = [62, 64, 61, 66, 63, 65, 70, 72, 74, 75, 77, 79, 80, 82, 81, 83];
  const spcPoints = points.map((value, i) => ({
    at: `${iso(new Date(Date.UTC(2026, 0, 5 + i * 7)))}T12:00:00Z`,
    value,
    rules: i >= 9 ? ['SHIFT'] : [],
    specialCause: i >= 9 ? 'HIGH' : null,
  }));
  return {
    from: months[0].start,
    to: months[11].end,
    departments: [card, phys],
    byKind: { total, totals, buckets },
    byHarm: { total, totals: [
      { key: 'LOW', label: 'Low physical harm', count: 9 },
      { key: 'NONE', label: 'No physical harm', count: total - 12 },
      { key: 'MODERATE', label: 'Moderate physical harm', count: 3 },
    ] },
    byDepartment: { total, totals: [{ key: 'CARD', label: 'Cardiology', count: total - 7 }, { key: 'PHYS', label: 'Medical Physics', count: 7 }] },
    nearMisses: { totals: [{ key: 'true', label: 'Near miss', count: 11 }, { key: 'false', label: 'Not a near miss', count: total - 11 }] },
    reportedVsClosed: buckets.map((b, i) => ({ start: b.start, end: b.end, reported: b.total, closed: Math.max(0, b.total - (i % 3)) })),
    timeToTriage: { count: 40, medianHours: 20.5, p90Hours: 70 },
    timeToClose: { count: 31, medianHours: 400, p90Hours: 900 },
    openIncidentsByAge: [
      { label: 'Under 7 days', minDays: 0, maxDays: 6, count: 4 },
      { label: '7 to 29 days', minDays: 7, maxDays: 29, count: 3 },
      { label: '30 to 89 days', minDays: 30, maxDays: 89, count: 2 },
      { label: '90 days or more', minDays: 90, maxDays: null, count: 1 },
    ],
    correctiveActions: {
      open: 6, overdue: 2, completed: 10, completedOnTime: 8, completedOnTimePercent: 80, verified: 5, verifiedEffective: 4, effectivenessVerifiedPercent: 80,
      byDepartment: [
        { department: card, open: 4, overdue: 1, completed: 7, completedOnTimePercent: 85.7, verified: 3, effectivenessVerifiedPercent: 66.7 },
        { department: phys, open: 2, overdue: 1, completed: 3, completedOnTimePercent: 66.7, verified: 2, effectivenessVerifiedPercent: 100 },
      ],
    },
    auditCompliance: [{
      title: 'Consent for myocardial perfusion imaging',
      department: card,
      cycles: [
        { id: 'QXVkaXQ6MQ', title: 'Consent audit', plannedStart: '2025-01-06' },
        { id: 'QXVkaXQ6Mg', title: 'Consent re-audit', plannedStart: '2025-07-07' },
        { id: 'QXVkaXQ6Mw', title: 'Consent re-audit 2', plannedStart: '2026-01-05' },
      ],
      criteria: [
        { criterion: 'Consent signed before injection', points: [
          { auditId: 'QXVkaXQ6MQ', plannedStart: '2025-01-06', compliancePercent: 72.5, targetPercent: 100, nonConformity: true },
          { auditId: 'QXVkaXQ6Mg', plannedStart: '2025-07-07', compliancePercent: 90, targetPercent: 100, nonConformity: true },
          { auditId: 'QXVkaXQ6Mw', plannedStart: '2026-01-05', compliancePercent: 100, targetPercent: 100, nonConformity: false },
        ] },
        { criterion: 'Pregnancy status recorded', points: [
          { auditId: 'QXVkaXQ6MQ', plannedStart: '2025-01-06', compliancePercent: 95, targetPercent: 100, nonConformity: true },
          { auditId: 'QXVkaXQ6Mw', plannedStart: '2026-01-05', compliancePercent: 97.5, targetPercent: 100, nonConformity: true },
        ] },
      ],
    }],
    nonConformitiesOpen: 2,
    improvementMeasures: [{
      project: { id: 'SW1wcm92ZW1lbnRQcm9qZWN0OjE', title: 'Cut repeat echocardiograms' },
      measure: {
        id: 'TWVhc3VyZTox', name: 'Contrast offered when indicated', unit: '%', target: 95, betterWhen: 'HIGHER',
        measurements: spcPoints.map((p) => ({ at: p.at, value: p.value })),
        spc: { mean: 72.1, upperProcessLimit: 84.5, lowerProcessLimit: 59.7, fewPoints: false, variation: 'IMPROVING', assurance: 'HIT_AND_MISS', points: spcPoints },
      },
    }],
  };
}

test('the dashboard draws every figure as a chart with its table, patterns, markers and a print layout', async () => {
  const data = fixture();
  const page = await openPage(browser, server);
  await page.route('**/graphql', async (route) => {
    if (route.request().postData()?.includes('dashboard(filter')) {
      await route.fulfill({ contentType: 'application/json', body: JSON.stringify({ data: { dashboard: data } }) });
    } else {
      await route.continue();
    }
  });
  await signIn(page, h.quinn, '/dashboard');
  await page.locator('#dashboard[aria-busy="false"]').waitFor();

  // The headline figures.
  const tiles = await page.locator('.figure-tile').allTextContents();
  assert.ok(tiles.some((t) => t.startsWith('Incidents reported') && t.includes(String(data.byKind.total))), tiles.join(' | '));
  assert.ok(tiles.some((t) => t.includes('Median time to triage') && t.includes('20.5 hours')), tiles.join(' | '));
  assert.ok(tiles.some((t) => t.includes('Open actions6') && t.includes('2 overdue')), tiles.join(' | '));

  // Every chart is an SVG image labelled by its caption, with a table of its figures.
  const charts = page.locator('figure.chart');
  assert.equal(await charts.count(), 7, 'by month, harm, department, reported/closed, age, audit, measure');
  for (const fig of await charts.all()) {
    const svg = fig.locator('svg.chart__svg');
    assert.equal(await svg.getAttribute('role'), 'img');
    const labelledBy = (await svg.getAttribute('aria-labelledby')).split(' ')[0];
    assert.equal(await fig.locator('figcaption').getAttribute('id'), labelledBy);
    assert.ok(await fig.locator('table caption').count() === 1);
    assert.ok(await svg.locator('rect.chart__bar, path.chart__line').count() > 0, await fig.locator('figcaption').textContent());
  }
  // The stacked months: one bar segment per non-zero count, each kind in its own pattern.
  const months = charts.filter({ hasText: 'Incidents reported by month, by kind' });
  const segments = data.byKind.buckets.flatMap((b) => b.split).filter((x) => x.count > 0).length;
  assert.equal(await months.locator('svg.chart__svg rect.chart__bar').count(), segments);
  const fills = new Set(await months.locator('svg.chart__svg rect.chart__bar').evaluateAll((rs) => rs.map((r) => r.getAttribute('fill'))));
  assert.equal(fills.size, 3, 'three kinds, three patterns');
  assert.deepEqual(await months.locator('.chart__legend-item').allTextContents(), [' Patient safety', ' Equipment', ' Radiation']);
  // Its table has the same numbers, month by month.
  await months.getByText('Show the figures as a table').click();
  const firstRow = await months.locator('tbody tr').first().locator('td').allTextContents();
  const b0 = data.byKind.buckets[0];
  assert.deepEqual(firstRow, [...b0.split.map((s) => String(s.count)), String(b0.total)]);

  // The run chart: mean, limits and target as lines, the special causes marked as such.
  const run = charts.filter({ hasText: 'Contrast offered when indicated' });
  assert.equal(await run.locator('svg.chart__svg line.chart__ref--mean').count(), 1);
  assert.equal(await run.locator('svg.chart__svg line.chart__ref--limit').count(), 2);
  assert.equal(await run.locator('svg.chart__svg line.chart__ref--target').count(), 1);
  assert.equal(await run.locator('.chart__special--improving').count(), 7 + 1, 'seven points and the legend');
  assert.match(await run.locator('.chart__description').textContent(), /Mean 72\.1%, process limits 59\.7% to 84\.5%/);
  await run.getByText('Show the figures as a table').click();
  assert.equal(await run.locator('tbody tr').count(), 16);
  assert.match(await run.locator('tbody tr').last().textContent(), /improvement: a shift/);

  // Audit compliance: one line per criterion across the cycles, a gap where one was not audited.
  const audit = charts.filter({ hasText: 'Consent for myocardial perfusion imaging' });
  assert.equal(await audit.locator('svg.chart__svg path.chart__line').count(), 2);
  await audit.getByText('Show the figures as a table').click();
  assert.match(await audit.locator('tbody tr').nth(1).textContent(), /–/);

  // Actions by department, as a table.
  assert.match(await page.getByRole('table', { name: 'Corrective actions by department' }).textContent(), /Medical Physics/);

  await assertAccessible(page, 'the dashboard');
  for (const [name, fig] of [['chart-months', months], ['chart-run', run], ['chart-audit', audit]]) {
    await fig.screenshot({ path: join(outputDir, `${name}.png`) });
  }
  await screenshots(page, 'dashboard-charts');
  // In print: no menus or filters, charts kept whole, every table open.
  await page.emulateMedia({ media: 'print' });
  await page.evaluate(() => window.dispatchEvent(new Event('beforeprint')));
  assert.equal(await page.locator('.nav').isVisible(), false);
  assert.equal(await page.locator('#dashboard-form').isVisible(), false);
  assert.equal(await page.locator('details.chart__data:not([open])').count(), 0);
  await page.screenshot({ path: join(outputDir, 'dashboard-print.png'), fullPage: true });
  await page.evaluate(() => window.dispatchEvent(new Event('afterprint')));
  await page.emulateMedia({ media: 'screen' });
  page.assertClean();
  await page.context().close();
});

// Needs the server's `dashboard` query.
test('the quality lead’s dashboard counts the incident just reported, with audits and measures', async () => {
  const count = async () => (await server.gql(h.quinn, '{ dashboard { incidentCounts { total } } }')).dashboard.incidentCounts.total;
  const before = await count();

  const sam = await openPage(browser, server);
  await reportForm(sam, h.sam);
  await sam.getByLabel('Summary').fill('Treadmill emergency stop did not work');
  await sam.getByLabel('What happened?').fill('The emergency stop on treadmill 1 failed during a safety check.');
  await sam.getByRole('radio', { name: 'Equipment or medical device' }).check();
  await sam.getByRole('radio', { name: 'Yes, it was stopped in time' }).check();
  await sam.getByRole('button', { name: 'Send report' }).click();
  await sam.getByRole('heading', { name: 'Report sent' }).waitFor();
  await sam.context().close();
  assert.equal(await count(), before + 1);

  // An improvement project with a measure and eight weekly measurements.
  const project = (await server.gql(h.quinn, `mutation($i: StartImprovementProjectInput!) { startImprovementProject(input: $i) {
      improvementProject { id version measures { id } } } }`, { i: {
    title: 'Faster stress echo reports', aim: 'Report 90% of stress echoes within 2 days by June', departmentId: h.cardiology,
    measures: [{ name: 'Reported within 2 days', kind: 'OUTCOME', unit: '%', target: 90, betterWhen: 'HIGHER' }] } })).startImprovementProject.improvementProject;
  await server.gql(h.quinn, 'mutation($i: TransitionImprovementProjectInput!) { transitionImprovementProject(input: $i) { improvementProject { status } } }',
    { i: { projectId: project.id, to: 'ACTIVE', expectedVersion: project.version } });
  for (const [i, value] of [61, 64, 60, 66, 70, 73, 75, 80].entries()) {
    const at = new Date(Date.now() - (8 - i) * 7 * 86400000).toISOString();
    await server.gql(h.quinn, 'mutation($i: RecordMeasurementInput!) { recordMeasurement(input: $i) { improvementProject { id } } }',
      { i: { measureId: project.measures[0].id, value, at } });
  }

  // An audit of two criteria, reported, and its re-audit: two cycles within the period.
  const q = h.quinn;
  const plan = async (title, plannedStart, reauditOfId) => (await server.gql(q,
    'mutation($i: PlanAuditInput!) { planAudit(input: $i) { audit { id version } } }',
    { i: { title, departmentId: h.cardiology, standard: 'BSE stress echo standards', plannedStart, plannedEnd: plannedStart, reauditOfId } })).planAudit.audit;
  const move = async (a, to) => (await server.gql(q, 'mutation($i: TransitionAuditInput!) { transitionAudit(input: $i) { audit { id version } } }',
    { i: { auditId: a.id, to, expectedVersion: a.version } })).transitionAudit.audit;
  const finding = async (a, criterion, compliantCount) => server.gql(q, 'mutation($i: RecordAuditFindingInput!) { recordAuditFinding(input: $i) { audit { id } } }',
    { i: { auditId: a.id, criterion, targetPercent: 100, sampleSize: 40, compliantCount } });
  const daysAgo = (n) => iso(new Date(Date.now() - n * 86400000));
  const SIGNED = 'Consent recorded before the stress test';
  const STOPPED = 'Reason for stopping recorded';
  let first = await plan('Stress echo records', daysAgo(150));
  first = await move(first, 'IN_PROGRESS');
  await finding(first, SIGNED, 30);
  await finding(first, STOPPED, 36);
  await move(first, 'REPORTED');
  let again = await plan('Stress echo records: re-audit', daysAgo(30), first.id);
  again = await move(again, 'IN_PROGRESS');
  await finding(again, SIGNED, 38);
  await finding(again, STOPPED, 40);

  const page = await openPage(browser, server);
  await signIn(page, h.quinn, '/dashboard');
  await page.locator('#dashboard[aria-busy="false"]').waitFor();
  const tile = await page.locator('.figure-tile').filter({ hasText: 'Incidents reported' }).textContent();
  assert.ok(tile.includes(String(before + 1)), tile);
  const byDept = page.locator('figure.chart').filter({ hasText: 'Incidents by department' });
  await byDept.getByText('Show the figures as a table').click();
  assert.match(await byDept.locator('tbody').textContent(), /Cardiology\s*\d+/);
  const byKind = page.locator('figure.chart').filter({ hasText: 'Incidents reported by month, by kind' });
  await byKind.getByText('Show the figures as a table').click();
  assert.ok(await byKind.locator('thead').getByText(/Equipment/).count() > 0, 'equipment is one of the kinds counted');
  const run = page.locator('figure.chart').filter({ hasText: 'Faster stress echo reports: Reported within 2 days' });
  assert.equal(await run.locator('circle.chart__marker, path.chart__marker').count() >= 8, true);
  assert.equal(await run.locator('svg.chart__svg line.chart__ref--target').count(), 1);
  // The audit: one line per criterion across its two cycles, and the same in its table.
  const audit = page.locator('figure.chart').filter({ hasText: 'Stress echo records (Cardiology): compliance by criterion' });
  assert.match(await audit.locator('.chart__description').textContent(), /^2 cycles/);
  assert.equal(await audit.locator('svg.chart__svg path.chart__line').count(), 2);
  assert.deepEqual((await audit.locator('.chart__legend-item').allTextContents()).map((t) => t.trim()).filter((t) => !t.startsWith('Target')), [SIGNED, STOPPED]);
  await audit.getByText('Show the figures as a table').click();
  const head = await audit.locator('thead th').allTextContents();
  assert.equal(head.length, 3, head.join(' | '));
  assert.match(head[1], /^Stress echo records \(/);
  assert.match(head[2], /^Stress echo records: re-audit \(/);
  const cells = await audit.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent)));
  assert.deepEqual(cells, [
    [SIGNED, '75% (target 100%, below target)', '95% (target 100%, below target)'],
    [STOPPED, '90% (target 100%, below target)', '100% (target 100%)'],
  ]);
  await assertAccessible(page, 'the dashboard');
  await screenshots(page, 'dashboard');

  // A handler's dashboard is their departments'; staff have none.
  const staff = await openPage(browser, server);
  await signIn(staff, h.sam, '/dashboard');
  await staff.getByRole('heading', { name: 'This page is for handlers and quality leads' }).waitFor();
  await staff.context().close();
  page.assertClean();
  await page.context().close();
});
