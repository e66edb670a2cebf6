// The pages everyone passes through: the start page signed out and in, the audit page, and
// a page that does not exist. Each is checked with axe and photographed, also at 360 px.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, hospital } from '../lib/server.mjs';
import { launch, openPage, signIn, assertAccessible, screenshots } from '../lib/browser.mjs';

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

test('the start page says how to sign in, and once signed in shows what the person can use', async () => {
  const page = await openPage(browser, server);
  await page.goto('/');
  await page.getByText('You need to be signed in to report.').waitFor();
  assert.equal(await page.locator('#account').isVisible(), false);
  await assertAccessible(page, 'the start page, signed out');
  await screenshots(page, 'home-signed-out');

  await signIn(page, h.sam);
  assert.equal(await page.getByText('You need to be signed in to report.').isVisible(), false);
  assert.equal(await page.getByRole('link', { name: 'Dashboard' }).count(), 0, 'staff get no reviewer links');
  await page.goto(`/#token=${h.quinn}`);
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
  assert.equal(await page.getByRole('link', { name: 'Work queue' }).count(), 2, 'in the menu and as a card');
  await assertAccessible(page, 'the start page, signed in');
  await screenshots(page, 'home');
  page.assertClean();
  await page.context().close();
});

test('an unknown address is a page that leads back, with status 404', async () => {
  const page = await openPage(browser, server, { allow: [/404/] });
  const resp = await page.goto('/no-such-page');
  assert.equal(resp.status(), 404);
  await page.getByRole('heading', { name: 'Page not found' }).waitFor();
  await assertAccessible(page, 'the not-found page');
  await screenshots(page, 'not-found');
  page.assertClean();
  await page.context().close();
});

test('an audit page shows compliance by criterion and the change since the last cycle', async () => {
  const q = h.quinn;
  const plan = async (title, reauditOfId) => (await server.gql(q,
    'mutation($i: PlanAuditInput!) { planAudit(input: $i) { audit { id version } } }',
    { i: { title, departmentId: h.cardiology, standard: 'Trust consent policy v4', plannedStart: '2026-01-05', plannedEnd: '2026-01-30', reauditOfId } })).planAudit.audit;
  const start = async (a) => server.gql(q, 'mutation($i: TransitionAuditInput!) { transitionAudit(input: $i) { audit { version } } }',
    { i: { auditId: a.id, to: 'IN_PROGRESS', expectedVersion: a.version } });
  const finding = async (a, compliantCount) => server.gql(q, 'mutation($i: RecordAuditFindingInput!) { recordAuditFinding(input: $i) { audit { id } } }',
    { i: { auditId: a.id, criterion: 'Consent form signed before injection', targetPercent: 100, sampleSize: 40, compliantCount } });
  const first = await plan('Consent for stress echo');
  await start(first);
  await finding(first, 30);
  const again = await plan('Consent for stress echo: re-audit', first.id);
  await start(again);
  await finding(again, 38);

  const page = await openPage(browser, server);
  await signIn(page, h.hana, `/audits/${encodeURIComponent(again.id)}`);
  await page.getByRole('heading', { name: 'Consent for stress echo: re-audit' }).waitFor();
  const row = page.getByRole('row').filter({ hasText: 'Consent form signed before injection' });
  const text = await row.textContent();
  assert.match(text, /95%/);
  assert.match(text, /\+20 points/);
  assert.match(text, /38 of 40/);
  assert.match(text, /Below target/);
  await page.getByRole('link', { name: 'Consent for stress echo' }).waitFor();
  await assertAccessible(page, 'the audit page');
  await screenshots(page, 'audit');
  page.assertClean();
  await page.context().close();
});
