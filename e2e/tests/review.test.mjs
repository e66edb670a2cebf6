// From report to learning: the report reaches the handler's queue; the handler triages it
// and moves it with only the moves the server allows them; an action is raised, worked by
// its owner and done; the quality lead closes the incident; the reporter reads the
// feedback in My reports. And actions past their due date, under overdue in the queue.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, hospital, assertLogsClean } from '../lib/server.mjs';
import { launch, openPage, signIn, reportForm, assertAccessible, screenshots } from '../lib/browser.mjs';

let server;
let h;
let browser;
const DESCRIPTION = 'The echo machine in room 2 showed another patient’s study at the start of a scan.';
const FEEDBACK = 'Thank you. The worklist now clears between patients, and staff were reminded to check.';
const LEARNING = 'Check the name on the worklist against the wristband before every scan.';

before(async () => {
  server = await startServer();
  h = await hospital(server);
  browser = await launch();
});

after(async () => {
  await browser?.close();
  if (server) {
    try {
      assertLogsClean(server, [DESCRIPTION]);
    } finally {
      await server.stop();
    }
  }
});

const ALLOWED = `query($r: String!) { incidentByReference(reference: $r) { status allowedTransitions } }`;

async function allowed(token, reference) {
  return (await server.gql(token, ALLOWED, { r: reference })).incidentByReference;
}

/** The statuses the move form offers, as the radios' values. */
async function offered(page) {
  return page.locator('#transition-form input[name=to]').evaluateAll((rs) => rs.map((r) => r.value));
}

let reference;

test('a report made through the form is waiting in its department’s queue, and only there', async () => {
  const sam = await openPage(browser, server);
  await reportForm(sam, h.sam);
  await sam.getByLabel('Summary').fill('Previous patient’s study on screen');
  await sam.getByLabel('What happened?').fill(DESCRIPTION);
  await sam.getByRole('radio', { name: 'Patient safety' }).check();
  await sam.getByRole('radio', { name: 'No, it happened' }).check();
  await sam.getByRole('radio', { name: 'Low physical harm' }).check();
  await sam.getByRole('button', { name: 'Send report' }).click();
  await sam.getByRole('heading', { name: 'Report sent' }).waitFor();
  reference = (await sam.locator('#confirmation-reference').textContent()).trim();
  sam.assertClean();
  await sam.context().close();

  const hana = await openPage(browser, server);
  await signIn(hana, h.hana, '/queue');
  const waiting = hana.locator('#awaiting');
  await waiting.getByRole('link', { name: reference }).waitFor();
  assert.match(await waiting.textContent(), /Previous patient’s study on screen/);
  assert.match(await hana.locator('#scope').textContent(), /Cardiology/);
  await assertAccessible(hana, 'the work queue');
  await screenshots(hana, 'queue');
  hana.assertClean();
  await hana.context().close();

  // Medical physics' handler does not see cardiology's incident.
  const nina = await openPage(browser, server);
  await signIn(nina, h.nina, '/queue');
  await nina.getByText('Nothing is waiting for triage.').waitFor();
  nina.assertClean();
  await nina.context().close();

  // Staff are told the queue is not for them.
  const staff = await openPage(browser, server);
  await signIn(staff, h.sam, '/queue');
  await staff.getByRole('heading', { name: 'This page is for handlers and quality leads' }).waitFor();
  assert.equal(await staff.getByRole('link', { name: 'Work queue' }).count(), 0, 'no link to it in the menu');
  await staff.context().close();
});

test('the handler triages it and moves it with the moves the server allows, and no others', async () => {
  const page = await openPage(browser, server);
  await signIn(page, h.hana, '/queue');
  await page.locator('#awaiting').getByRole('link', { name: reference }).click();
  await page.getByRole('heading', { name: 'Previous patient’s study on screen' }).waitFor();
  assert.match(await page.locator('#incident').textContent(), /another patient’s study/);

  assert.deepEqual(await offered(page), (await allowed(h.hana, reference)).allowedTransitions);
  assert.deepEqual(await offered(page), ['UNDER_REVIEW', 'DECLINED']);
  await assertAccessible(page, 'the incident page');
  await screenshots(page, 'incident-handler');

  // Declining needs a reason, as the server says.
  await page.getByRole('radio', { name: /Decline/ }).check();
  await page.getByRole('button', { name: 'Move the incident' }).click();
  await page.locator('#error-summary').getByRole('link', { name: 'Give the reason for declining it' }).waitFor();
  assert.equal((await allowed(h.hana, reference)).status, 'REPORTED');

  // Saving the review starts it.
  await page.getByRole('checkbox', { name: 'I am handling this incident' }).check();
  await page.getByLabel('Learning summary').fill(LEARNING);
  await page.getByLabel('Feedback to the reporter').fill(FEEDBACK);
  await page.getByRole('button', { name: 'Save the review' }).click();
  await page.locator('#done').getByText('The review is saved.').waitFor();
  assert.equal((await allowed(h.hana, reference)).status, 'UNDER_REVIEW');
  assert.match(await page.locator('#incident').textContent(), /Handler\s*Hana Handler/);

  assert.deepEqual(await offered(page), (await allowed(h.hana, reference)).allowedTransitions);
  assert.ok(!(await offered(page)).includes('CLOSED'), 'closing is for quality leads');
  await page.getByRole('radio', { name: 'Investigate' }).check();
  await page.getByRole('button', { name: 'Move the incident' }).click();
  await page.locator('#done').getByText('The incident is now: Being investigated.').waitFor();
  assert.equal((await allowed(h.hana, reference)).status, 'INVESTIGATING');
  assert.deepEqual(await offered(page), (await allowed(h.hana, reference)).allowedTransitions);
  assert.deepEqual(await offered(page), ['ACTIONS_IN_PROGRESS', 'DECLINED']);

  // An action for Sam, due within a fortnight.
  const due = new Date(Date.now() + 7 * 86400000).toISOString().slice(0, 10);
  await page.getByLabel('What needs doing').fill('Clear the echo worklist between patients');
  await page.getByLabel('Owner’s email address').fill('sam@trust.nhs.uk');
  await page.getByLabel('Due by').fill(due);
  await page.getByRole('button', { name: 'Raise the action' }).click();
  await page.locator('#done').getByText('The corrective action is raised.').waitFor();
  await page.getByRole('link', { name: 'Clear the echo worklist between patients' }).waitFor();

  await page.getByRole('radio', { name: /Investigation done/ }).check();
  await page.getByRole('button', { name: 'Move the incident' }).click();
  await page.locator('#done').getByText('The incident is now: Actions in progress.').waitFor();
  // The history says what happened, in order.
  const history = await page.locator('.timeline__title').allTextContents();
  assert.deepEqual(history, ['Reported', 'Review updated', 'Moved', 'Moved']);
  page.assertClean();

  // The queue now has it under review, and the action due soon.
  await page.goto('/queue');
  await page.locator('#review').getByRole('link', { name: reference }).waitFor();
  await page.locator('#due').getByRole('link', { name: 'Clear the echo worklist between patients' }).waitFor();
  assert.match(await page.locator('#awaiting').textContent(), /Nothing is waiting for triage/);
  await screenshots(page, 'queue-with-action');
  page.assertClean();
  await page.context().close();
});

test('the owner does the action; the quality lead closes the incident once nothing is open', async () => {
  const quinn = await openPage(browser, server);
  await signIn(quinn, h.quinn, `/incidents/${reference}`);
  await quinn.getByRole('heading', { name: 'Previous patient’s study on screen' }).waitFor();
  assert.deepEqual(await offered(quinn), (await allowed(h.quinn, reference)).allowedTransitions);
  assert.ok((await offered(quinn)).includes('CLOSED'));
  // The open action stops it closing: the server says so, in the summary.
  await quinn.getByRole('radio', { name: 'Close' }).check();
  await quinn.getByRole('button', { name: 'Move the incident' }).click();
  const blocked = quinn.locator('#error-summary').getByRole('link', { name: 'Every corrective action must be completed or cancelled before the incident closes' });
  await blocked.waitFor();
  assert.equal(await blocked.getAttribute('href'), '#actions-title', 'it leads to the actions');
  await blocked.click();
  assert.equal(await quinn.evaluate(() => document.activeElement.id), 'actions-title');
  assert.equal((await allowed(h.quinn, reference)).status, 'ACTIONS_IN_PROGRESS');

  const sam = await openPage(browser, server);
  await signIn(sam, h.sam, '/');
  const action = (await server.gql(h.sam, '{ correctiveActions(filter: { mine: true }) { edges { node { id } } } }')).correctiveActions.edges[0].node.id;
  await sam.goto(`/actions/${encodeURIComponent(action)}`);
  await sam.getByRole('heading', { name: 'Clear the echo worklist between patients' }).waitFor();
  const statuses = () => sam.locator('#action-update-form input[name=status]').evaluateAll((rs) => rs.map((r) => r.value));
  assert.deepEqual(await statuses(), ['IN_PROGRESS', 'COMPLETED'], 'an owner neither verifies nor cancels');
  await sam.getByRole('radio', { name: 'Start work on it' }).check();
  await sam.getByRole('button', { name: 'Save' }).click();
  await sam.getByText('The action is now: In progress.').waitFor();
  await sam.getByRole('radio', { name: 'Mark it completed' }).check();
  await sam.getByLabel('Note').fill('Worklist clearing switched on by the supplier.');
  await sam.getByRole('button', { name: 'Save' }).click();
  await sam.getByText('The action is now: Completed, waiting to be verified.').waitFor();
  await assertAccessible(sam, 'the action page');
  await screenshots(sam, 'action');
  sam.assertClean();
  await sam.context().close();

  await quinn.reload();
  await quinn.getByRole('radio', { name: 'Close' }).check();
  await quinn.getByRole('button', { name: 'Move the incident' }).click();
  await quinn.locator('#done').getByText('The incident is now: Closed.').waitFor();
  assert.equal((await allowed(h.quinn, reference)).status, 'CLOSED');
  // Closed: reopening (with a reason) is all that is left.
  assert.deepEqual(await offered(quinn), (await allowed(h.quinn, reference)).allowedTransitions);
  assert.deepEqual(await offered(quinn), ['UNDER_REVIEW']);
  await screenshots(quinn, 'incident-closed');
  quinn.assertClean();
  await quinn.context().close();
});

test('the reporter reads the status and the feedback in My reports', async () => {
  const page = await openPage(browser, server);
  await signIn(page, h.sam, '/my-reports');
  const card = page.locator('.report-card').filter({ hasText: reference });
  await card.waitFor();
  const text = await card.textContent();
  assert.match(text, /Status: Closed/);
  assert.ok(text.includes(FEEDBACK), text);
  assert.ok(text.includes(LEARNING), text);
  await assertAccessible(page, 'My reports');
  await screenshots(page, 'my-reports');

  // The reporter's view of the incident: no moves, no internal notes.
  await card.getByRole('link').click();
  await page.getByRole('heading', { name: 'Previous patient’s study on screen' }).waitFor();
  assert.equal(await page.locator('#transition-form').count(), 0);
  assert.equal(await page.getByRole('heading', { name: 'Internal notes' }).count(), 0);
  await screenshots(page, 'incident-reporter');
  page.assertClean();
  await page.context().close();
});

test('actions past their due date are listed under overdue, longest overdue first, each linked to its page', async () => {
  // An incident reported and actions raised through the API; the API takes a due date
  // already past, as when an action is recorded late.
  const incident = (await server.gql(h.sam, `mutation($i: ReportIncidentInput!) { reportIncident(input: $i) { incident { id reference } } }`, { i: {
    title: 'Defibrillator pads out of date', description: 'The pads on the cath lab defibrillator expired last month.',
    occurredAt: new Date(Date.now() - 3600000).toISOString(), departmentId: h.cardiology, kind: 'EQUIPMENT', physicalHarm: 'NONE', nearMiss: true,
  } })).reportIncident.incident;
  const daysAgo = (n) => new Date(Date.now() - n * 86400000).toISOString().slice(0, 10);
  const raise = async (title, dueDate) => (await server.gql(h.hana, `mutation($i: CreateCorrectiveActionInput!) {
      createCorrectiveAction(input: $i) { correctiveAction { id overdue } } }`,
    { i: { sourceId: incident.id, title, ownerEmail: 'sam@trust.nhs.uk', dueDate } })).createCorrectiveAction.correctiveAction;
  const recent = await raise('Check every defibrillator’s pads', daysAgo(3));
  const oldest = await raise('Replace the cath lab defibrillator pads', daysAgo(20));
  assert.equal(recent.overdue, true);
  assert.equal(oldest.overdue, true);

  const page = await openPage(browser, server);
  await signIn(page, h.hana, '/queue');
  const overdue = page.locator('#overdue');
  await overdue.getByRole('link', { name: 'Replace the cath lab defibrillator pads' }).waitFor();
  const rows = overdue.locator('tbody tr');
  const titles = await rows.evaluateAll((trs) => trs.map((tr) => tr.querySelector('td a').textContent));
  assert.deepEqual(titles, ['Replace the cath lab defibrillator pads', 'Check every defibrillator’s pads'], 'longest overdue first');
  const row = rows.filter({ hasText: 'Replace the cath lab defibrillator pads' });
  assert.match(await row.textContent(), /Overdue/, 'the tag says so in words');
  assert.match(await row.textContent(), /Sam Scientist|sam@trust\.nhs\.uk/);
  await row.getByRole('link', { name: incident.reference }).waitFor();
  // Overdue, not also due soon.
  assert.equal(await page.locator('#due').getByRole('link', { name: /defibrillator/ }).count(), 0);
  await assertAccessible(page, 'the work queue with overdue actions');
  await screenshots(page, 'queue-overdue');

  await overdue.getByRole('link', { name: 'Replace the cath lab defibrillator pads' }).click();
  await page.getByRole('heading', { name: 'Replace the cath lab defibrillator pads' }).waitFor();
  assert.equal(decodeURIComponent(new URL(page.url()).pathname), `/actions/${oldest.id}`);
  page.assertClean();
  await page.context().close();

  // Medical physics' handler does not see cardiology's actions.
  const nina = await openPage(browser, server);
  await signIn(nina, h.nina, '/queue');
  await nina.locator('#overdue').getByText('No action is overdue.').waitFor();
  nina.assertClean();
  await nina.context().close();
});
