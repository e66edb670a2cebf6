// Signing in: the intranet's link with the token in the fragment (never sent to the
// server, taken out of the address bar at once), a pasted token for standalone installs,
// and signing out when the token expires, with a message saying so.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, hospital } from '../lib/server.mjs';
import { launch, openPage, signIn, reportForm, assertAccessible, screenshots } from '../lib/browser.mjs';

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

test('a sign-in link puts the token in this tab only, and out of the address bar and every request', async () => {
  const link = server.token('sam', ['--name', 'Sam Scientist', '--link'], { CANDOUR_PUBLIC_URL: server.url });
  assert.ok(link.startsWith(`${server.url}/#token=`), link);
  const token = link.slice(link.indexOf('#token=') + 7);
  const page = await openPage(browser, server);
  await page.goto(link);
  await page.locator('#account-name').waitFor();
  assert.equal(await page.locator('#account-name').textContent(), 'Sam Scientist');
  assert.equal(page.url(), `${server.url}/`, 'the fragment is gone');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('candour.token')), token);
  assert.equal(await page.evaluate(() => localStorage.length), 0);
  await page.goto('/my-reports');
  await page.getByText('You have not reported anything with your name yet.').waitFor();
  // The token went in Authorization headers only: no URL the server (or a proxy) logs.
  assert.ok(page.requests.every((u) => !u.includes(token)), 'a request URL carried the token');
  assert.ok(!server.logs().includes(token), 'the token reached the server log');
  page.assertClean();
  await page.context().close();
});

test('an identity provider’s redirect with #access_token signs in too', async () => {
  const page = await openPage(browser, server);
  await page.goto(`/report#access_token=${h.hana}&token_type=Bearer&expires_in=28800`);
  await page.locator('#account-name').waitFor();
  assert.equal(await page.locator('#account-name').textContent(), 'Hana Handler');
  assert.equal(page.url(), `${server.url}/report`);
  // A handler sees the links a handler needs.
  await page.getByRole('link', { name: 'Work queue' }).waitFor();
  page.assertClean();
  await page.context().close();
});

test('a visitor who is not signed in is sent to sign in, and comes back after pasting a token', async () => {
  const page = await openPage(browser, server);
  await page.goto('/report');
  await page.waitForURL('**/sign-in?next=%2Freport');
  await page.getByText('Sign in to use that page.').waitFor();
  await assertAccessible(page, 'the sign-in page');
  await screenshots(page, 'sign-in');

  const submit = () => page.getByRole('button', { name: 'Sign in' }).click();
  const problem = (text) => page.locator('#error-summary').getByRole('link', { name: text }).waitFor();
  await submit();
  await problem('Paste your sign-in token');
  await page.getByLabel('Sign-in token').fill('not a token');
  await submit();
  await problem('This is not a sign-in token: check you copied all of it');
  const forged = server.token('mallory', [], { CANDOUR_JWT_SECRET: 'another-secret-0123456789abcdef0123456789' });
  await page.getByLabel('Sign-in token').fill(forged);
  await submit();
  await problem('Candour did not accept this token: ask for a new one');
  const brief = server.token('sam', ['--lifetime', '1s']);
  await new Promise((r) => setTimeout(r, 1500));
  await page.getByLabel('Sign-in token').fill(brief);
  await submit();
  await problem('This sign-in token has expired: ask for a new one');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('candour.token')), null);

  await page.getByLabel('Sign-in token').fill(`Bearer ${h.sam}`);
  await submit();
  await page.waitForURL('**/report');
  await page.getByRole('heading', { name: 'Report an incident' }).waitFor();
  page.assertClean();
  await page.context().close();
});

test('when the token expires the page signs out, clears the draft and says why', async () => {
  const page = await openPage(browser, server);
  const brief = server.token('sam', ['--name', 'Sam Scientist', '--lifetime', '4s']);
  await reportForm(page, brief);
  await page.getByLabel('Summary').fill('Half-written when the sign-in ran out');
  await page.waitForURL('**/sign-in?next=%2Freport', { timeout: 15000 });
  await page.getByText(/Your sign-in expired, so you have been signed out/).waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('candour.draft.report')), null);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('candour.token')), null);
  page.assertClean();
  await page.context().close();
});

test('an expired sign-in link does not sign in', async () => {
  const brief = server.token('sam', ['--lifetime', '1s']);
  await new Promise((r) => setTimeout(r, 1500));
  const page = await openPage(browser, server);
  await page.goto(`/my-reports#token=${brief}`);
  await page.waitForURL('**/sign-in**');
  await page.getByText(/Your sign-in expired/).waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('candour.token')), null);
  page.assertClean();
  await page.context().close();
});

test('on a page anyone may use, an expired sign-in is forgotten there and then, without leaving', async () => {
  const page = await openPage(browser, server);
  const brief = server.token('sam', ['--name', 'Sam Scientist', '--lifetime', '3s']);
  await signIn(page, brief, '/follow-up');
  await page.getByText('Your sign-in expired, so you have been signed out').waitFor({ timeout: 15000 });
  assert.equal(new URL(page.url()).pathname, '/follow-up');
  assert.equal(await page.locator('#account').isVisible(), false);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('candour.token')), null);
  // And coming back later with it still in the tab says the same, on the page itself.
  await page.evaluate((t) => sessionStorage.setItem('candour.token', t), brief);
  await page.reload();
  await page.getByText('Your sign-in expired, so you have been signed out').waitFor();
  assert.equal(new URL(page.url()).pathname, '/follow-up');
  page.assertClean();
  await page.context().close();
});
