// Headless Chromium (Debian's, driven by playwright-core), a page that fails its test when it
// asks for anything but the server under test or breaks its Content-Security-Policy, axe-core
// from node_modules, and screenshots in e2e/output/.
import assert from 'node:assert/strict';
import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { databaseKind } from './server.mjs';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const here = dirname(fileURLToPath(import.meta.url));
export const outputDir = resolve(here, '..', 'output', databaseKind());

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

export async function launch() {
  // Playwright gives each launch a fresh, empty --user-data-dir of its own.
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  browser.on('disconnected', () => {
    if (!browser.closing) console.error('Chromium went away while the tests ran');
  });
  const close = browser.close.bind(browser);
  browser.close = async () => {
    browser.closing = true;
    await close();
  };
  return browser;
}

/**
 * A fresh browser context (its own sessionStorage) and page on `server`. Everything the page
 * requests is recorded; `page.assertClean()` fails on any request elsewhere, any CSP
 * violation, any script error and any console error not listed in `allow`.
 */
export async function openPage(browser, server, { width = 1100, height = 900, allow = [] } = {}) {
  const context = await browser.newContext({
    viewport: { width, height },
    baseURL: server.url,
    locale: 'en-GB',
    timezoneId: 'Europe/London',
    permissions: ['clipboard-read', 'clipboard-write'],
  });
  const page = await context.newPage();
  const foreign = [];
  const problems = [];
  const requests = [];
  context.on('request', (req) => {
    const u = req.url();
    requests.push(u);
    const ours = u === server.url || u.startsWith(`${server.url}/`);
    if (!ours && !/^(data|blob|about):/.test(u)) foreign.push(u);
  });
  page.on('console', (m) => {
    if (m.type() === 'error' && !allow.some((re) => re.test(m.text()))) problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`script error: ${e.message}`));
  page.requests = requests;
  page.assertClean = () => {
    assert.deepEqual(foreign, [], 'the page made requests to somewhere other than the server under test');
    assert.deepEqual(problems, [], 'the page logged errors (CSP violations, script errors)');
  };
  page.problems = problems;
  return page;
}

/** Signs in the way the intranet does: a link with the token in the fragment. */
export async function signIn(page, token, path = '/') {
  await page.goto(`${path}#token=${token}`);
  await page.locator('#account-name').waitFor({ state: 'visible' });
}

/** Signs in on the report form, and waits until it has its departments. */
export async function reportForm(page, token) {
  await signIn(page, token, '/report');
  await page.locator('#report-form[data-ready]').waitFor();
}

/** Runs axe-core (WCAG 2.2 A and AA, and best practice) and fails on serious or critical findings. */
export async function assertAccessible(page, what) {
  // Evaluated through the DevTools protocol: no inline script, so the page's CSP stands.
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] }, resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ')) }));
  });
  const serious = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(serious, [], `axe found serious accessibility problems on ${what}`);
  return result;
}

/** Screenshots of the whole page, as it is and at 360 px wide. */
export async function screenshots(page, name) {
  mkdirSync(outputDir, { recursive: true });
  const size = page.viewportSize();
  await page.screenshot({ path: join(outputDir, `${name}.png`), fullPage: true });
  await page.setViewportSize({ width: 360, height: 740 });
  await page.waitForTimeout(150);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  await page.screenshot({ path: join(outputDir, `${name}-360.png`), fullPage: true });
  await page.setViewportSize(size);
  assert.ok(overflow <= 1, `${name} scrolls sideways at 360 px (${overflow} px too wide)`);
}
