import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chromium, type Browser } from 'playwright-core';
import { runFleet } from '../../src/demo/fleet.js';
import { call, postForm, startAssetgate, type Harness } from '../support/harness.js';
import { MockIssuer } from '../support/mock-issuer.js';

/**
 * The development activity page in a real browser: Debian's chromium driven by playwright-core.
 * CI machines without /usr/bin/chromium skip this suite (`apt-get install -y chromium` enables it).
 * ASSETGATE_SCREENSHOTS=docs writes the README's screenshots into docs/.
 */
const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`dashboard e2e skipped: ${CHROMIUM} is absent (apt-get install -y chromium)`);
const screenshotDir = process.env.ASSETGATE_SCREENSHOTS === 'docs' ? 'docs' : join(tmpdir(), 'assetgate-screenshots');

(hasChromium ? describe : describe.skip)('development activity page (headless Chromium)', () => {
  let ag: Harness;
  let browser: Browser;

  beforeAll(async () => {
    ag = await startAssetgate({ store: 'memory' });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    mkdirSync(screenshotDir, { recursive: true });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await ag?.close();
  });

  it('shows exchanges, devices and ingest from live traffic, never a token', async () => {
    const report = await runFleet({ url: ag.url, devices: 6, events: 3, concurrency: 3 });
    expect(report.failures).toBe(0);
    // One refused exchange, so the refusals list has something to show.
    const minted = await call(`${ag.url}/dev-issuer/asset-tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"did":"page-device"}' });
    const assertion = minted.json.asset_token as string;
    const first = await postForm(ag.tokenEndpoint, { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion });
    const replay = await postForm(ag.tokenEndpoint, { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion });
    expect(replay.status).toBe(400);

    const page = await browser.newPage({ viewport: { width: 1280, height: 820 } });
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(`${ag.url}/`);
    await page.waitForSelector('body[data-updated]');
    await page.waitForFunction("document.querySelectorAll('#devices tbody tr').length >= 7");

    expect(await page.textContent('#exchangesIssued')).toBe('7');
    expect(await page.textContent('#exchangesFailed')).toBe('1');
    expect(await page.textContent('#ingestEvents')).toBe('36');
    expect(await page.textContent('#ingestViaAssetToken')).toBe('18');
    const devices = await page.$$eval('#devices tbody td.device', (cells) => cells.map((c) => c.textContent));
    for (const id of report.devices) expect(devices).toContain(id);
    expect(devices).toContain('page-device');
    expect(await page.textContent('#rejections')).toContain('replayed: 1');
    expect(Number(await page.textContent('#ingestPerSecond'))).toBeGreaterThan(0);

    const html = await page.content();
    expect(html).not.toContain(assertion);
    expect(html).not.toContain(first.json.access_token as string);
    expect(problems).toEqual([]); // the CSP let the page's own script and style through, nothing else
    await page.screenshot({ path: join(screenshotDir, 'dashboard.png'), fullPage: true });
    await page.close();
  });

  it('is not served in production', async () => {
    const issuer = await MockIssuer.start();
    const metricsToken = 'dashboard-test-metrics-token-0123456789';
    const prod = await startAssetgate({ env: { NODE_ENV: 'production', TRUSTED_ISSUERS: issuer.url, METRICS_TOKEN: metricsToken } });
    try {
      expect((await call(`${prod.url}/`)).status).toBe(404);
      expect((await call(`${prod.url}/dev/activity`)).status).toBe(404);
      // The operator's view stays: metrics, behind their token as production requires.
      expect((await call(`${prod.url}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } })).status).toBe(200);
    } finally {
      await prod.close();
      await issuer.close();
    }
  });
});

// No browser needed: whether the page is mounted at all.
describe('development activity page, where it is not', () => {
  it('is not served with real issuers outside production either: it shows device ids without authentication', async () => {
    const issuer = await MockIssuer.start();
    const real = await startAssetgate({ env: { TRUSTED_ISSUERS: issuer.url } });
    try {
      expect((await call(`${real.url}/`)).status).toBe(404);
      expect((await call(`${real.url}/dev/activity`)).status).toBe(404);
      expect((await call(`${real.url}/dev-issuer/asset-tokens`, { method: 'POST' })).status).toBe(404);
    } finally {
      await real.close();
      await issuer.close();
    }
  });
});
