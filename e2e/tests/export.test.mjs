// Export buttons: the work queue and the dashboard download what they show as a CSV file,
// fetched with the signed-in token in a header (never in an address), saved from a blob.
// Each file is read back with a CSV parser and compared with what the page lists.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { startServer, hospital } from '../lib/server.mjs';
import { launch, openPage, signIn, assertAccessible } from '../lib/browser.mjs';

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

/** RFC 4180: quoted cells, doubled quotes, CRLF between records, newlines inside quotes. */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i++; }
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(cell); cell = ''; }
    else if (c === '\r' && text[i + 1] === '\n') { row.push(cell); rows.push(row); row = []; cell = ''; i++; }
    else cell += c;
  }
  if (cell || row.length) { row.push(cell); rows.push(row); }
  const [head, ...body] = rows;
  return body.map((r) => Object.fromEntries(head.map((k, i) => [k, r[i]])));
}

/** Clicks the button and reads the file the browser downloads. */
async function download(page, name) {
  const [file] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name }).click(),
  ]);
  const bytes = await readFile(await file.path());
  assert.deepEqual([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'the file starts with the UTF-8 byte order mark');
  const text = bytes.subarray(3).toString('utf8');
  return { name: file.suggestedFilename(), text, rows: parseCsv(text) };
}

const report = async (token, departmentId, title, extra = {}) => (await server.gql(token,
  'mutation($i: ReportIncidentInput!) { reportIncident(input: $i) { incident { id reference version } } }',
  { i: {
    title, description: `What happened: ${title}.`, occurredAt: new Date(Date.now() - 3600000).toISOString(),
    departmentId, kind: 'PATIENT_SAFETY', physicalHarm: 'NONE', ...extra,
  } })).reportIncident.incident;

test('a handler exports the incidents and actions of their work queue', async () => {
  const waiting = await report(h.sam, h.cardiology, '=HYPERLINK("http://x") booked twice');
  const reviewed = await report(h.sam, h.cardiology, 'ECG leads swapped');
  await server.gql(h.hana, 'mutation($i: TriageIncidentInput!) { triageIncident(input: $i) { incident { status } } }',
    { i: { incidentId: reviewed.id, expectedVersion: reviewed.version } });
  const declined = await report(h.sam, h.cardiology, 'Reported twice by mistake');
  await server.gql(h.hana, 'mutation($i: TransitionIncidentInput!) { transitionIncident(input: $i) { incident { status } } }',
    { i: { incidentId: declined.id, to: 'DECLINED', reason: 'A duplicate of another report', expectedVersion: declined.version } });
  const elsewhere = await report(h.sam, h.physics, 'Phantom dropped in physics');
  const yesterday = new Date(Date.now() - 86400000).toISOString().slice(0, 10);
  const action = (await server.gql(h.hana, 'mutation($i: CreateCorrectiveActionInput!) { createCorrectiveAction(input: $i) { correctiveAction { id } } }',
    { i: { sourceId: reviewed.id, title: 'Label the ECG leads', ownerEmail: 'sam@trust.nhs.uk', dueDate: yesterday } })).createCorrectiveAction.correctiveAction;

  const page = await openPage(browser, server);
  await signIn(page, h.hana, '/queue');
  await page.locator('#awaiting table').waitFor();
  await page.locator('#review table').waitFor();
  const shown = (await page.locator('#awaiting table a, #review table a').allTextContents()).sort();
  assert.deepEqual(shown, [waiting.reference, reviewed.reference].sort());

  const file = await download(page, 'Export incidents (CSV)');
  assert.match(file.name, /^incidents-\d{4}-\d{2}-\d{2}\.csv$/);
  assert.deepEqual(file.rows.map((r) => r.reference).sort(), shown, 'the file holds what the queue shows');
  assert.ok(!file.text.includes(declined.reference) && !file.text.includes(elsewhere.reference));
  const risky = file.rows.find((r) => r.reference === waiting.reference);
  assert.equal(risky.title, `'=HYPERLINK("http://x") booked twice`, 'a formula-like title is made inert');
  assert.equal(risky.description, 'What happened: =HYPERLINK("http://x") booked twice.');
  assert.equal(file.rows.find((r) => r.reference === reviewed.reference).status, 'UNDER_REVIEW');
  await page.getByRole('status').filter({ hasText: `Downloaded ${file.name}.` }).waitFor();

  const actions = await download(page, 'Export actions (CSV)');
  assert.match(actions.name, /^corrective-actions-\d{4}-\d{2}-\d{2}\.csv$/);
  assert.deepEqual(actions.rows.map((r) => r.id), [action.id]);
  assert.equal(actions.rows[0].overdue, 'true');

  // The token went in a header, never in an address.
  assert.ok(page.requests.some((u) => u.includes('/export/incidents.csv?filter=')));
  assert.ok(page.requests.every((u) => !u.includes(h.hana)), 'no address carries the token');
  await assertAccessible(page, 'the work queue with its export buttons');
  page.assertClean();
  await page.context().close();
});

test('a quality lead exports the incidents the dashboard counts, for the department chosen', async () => {
  await report(h.sam, h.physics, 'Dosimeter left in the bunker');
  const page = await openPage(browser, server);
  await signIn(page, h.quinn, '/dashboard');
  await page.locator('#dashboard[aria-busy="false"]').waitFor();
  const counted = (await server.gql(h.quinn, '{ dashboard { incidentCounts { total } } }')).dashboard.incidentCounts.total;
  assert.ok(counted > 0);
  const tile = await page.locator('.figure-tile').filter({ hasText: 'Incidents reported' }).locator('.figure-tile__value').textContent();
  assert.equal(tile.trim(), String(counted));

  const file = await download(page, 'Export incidents (CSV)');
  assert.match(file.name, /^incidents-\d{4}-\d{2}-\d{2}\.csv$/);
  assert.equal(file.rows.length, counted, 'one row for each incident the dashboard counts');
  const listed = (await server.gql(h.quinn, '{ incidents(first: 100) { edges { node { reference } } } }'))
    .incidents.edges.map((e) => e.node.reference).sort();
  assert.deepEqual(file.rows.map((r) => r.reference).sort(), listed);
  await page.getByRole('status').filter({ hasText: `Downloaded ${file.name}.` }).waitFor();

  // One department: its incidents only.
  await page.getByLabel('Department', { exact: true }).selectOption({ label: 'Medical Physics' });
  await page.getByRole('button', { name: 'Show' }).click();
  await page.locator('#dashboard-scope').filter({ hasText: 'Medical Physics' }).waitFor();
  await page.locator('#dashboard[aria-busy="false"]').waitFor();
  const physics = await download(page, 'Export incidents (CSV)');
  assert.ok(physics.rows.length >= 1);
  assert.ok(physics.rows.every((r) => r.departmentCode === 'PHYS'), physics.rows.map((r) => r.departmentCode).join());
  assert.equal(physics.rows.length, file.rows.filter((r) => r.departmentCode === 'PHYS').length);

  await assertAccessible(page, 'the dashboard with its export button');
  page.assertClean();
  await page.context().close();
});
