import { existsSync } from 'node:fs';
import path from 'node:path';
import mqtt from 'mqtt';
import { chromium, type Browser } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { gatewayBehindProxy, type ProxiedKinesis } from '../helpers/proxied-kinesis.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const CHROMIUM = '/usr/bin/chromium';

/** Debian's Chromium, installed by .ci/run; the page is checked in a real browser, as an operator sees it. */
describe.skipIf(!existsSync(CHROMIUM))('live dashboard in a browser (needs Debian chromium at /usr/bin/chromium)', () => {
  let rig: ProxiedKinesis | undefined;
  let browser: Browser | undefined;
  let cleanup: (() => Promise<void>) | undefined;

  afterEach(async () => {
    await browser?.close();
    await rig?.close();
    await cleanup?.();
  });

  it('loads, and its charts and tables fill with data while devices publish', async () => {
    const temp = await makeTempDir();
    cleanup = temp.cleanup;
    // A rule, so the rules card has a row to fill: every tenth reading is reported (v moves by 1 a reading).
    rig = await gatewayBehindProxy(temp.dir, 'browser-stream', { shards: 1, config: { rules: [{ name: 'browser-rbe', stages: [{ type: 'deadband', fields: ['v'], absolute: 9.5 }] }] } });
    const { gateway, mqttUrl } = rig;

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      // No background networking: this machine has no internet, and Chromium would keep trying.
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`http://127.0.0.1:${gateway.statusAddress!.port}/`);
    await expect.poll(() => page.locator('#health').textContent(), { timeout: 10_000 }).toBe('ok');

    // Publish for a few seconds (bounded) so two snapshots see readings arrive.
    const client = await mqtt.connectAsync(mqttUrl, { clientId: 'browser-device', reconnectPeriod: 0 });
    const until = Date.now() + 4_000;
    for (let seq = 1; Date.now() < until && seq <= 2_000; seq++) {
      await client.publishAsync('devices/browser-1/t', JSON.stringify({ seq, v: seq }), { qos: 1 });
    }
    await client.endAsync();

    await expect.poll(async () => Number((await page.locator('#rateIn').textContent())?.replace(/,/g, '')), { timeout: 10_000 }).toBeGreaterThan(0);
    await expect.poll(() => page.locator('#devices').textContent(), { timeout: 10_000 }).toContain('browser-1');
    expect(await page.locator('#ledger').textContent()).toContain('balancedyes');
    // The rules card: the rule, the readings it matched and filtered, and its evaluation time.
    await expect.poll(() => page.locator('#rules').textContent(), { timeout: 10_000 }).toMatch(/browser-rbe[\d,]+[\d,]+0[\d,]+\d/);
    const ruleRow = await page.locator('#rules tr:nth-child(2) td').allTextContents();
    expect(Number(ruleRow[1]!.replace(/,/g, ''))).toBeGreaterThan(0);
    expect(Number(ruleRow[2]!.replace(/,/g, ''))).toBeGreaterThan(0);
    expect(Number(ruleRow[5])).toBeGreaterThan(0);
    // The rate chart has drawn something: some pixel of the canvas is not blank.
    // (Typed structurally: the project compiles without the DOM library.)
    type Canvas = { width: number; height: number; getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } };
    const drawn = await page.locator('#rates').evaluate((element) => {
      const canvas = element as unknown as Canvas;
      const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) return true;
      return false;
    });
    expect(drawn).toBe(true);
    // Both charts carry a time axis: clock-time labels (HH:MM:SS) under the canvas.
    for (const axis of ['#ratesAxis', '#depthAxis']) {
      const labels = await page.locator(`${axis} span`).allTextContents();
      expect(labels.length).toBeGreaterThanOrEqual(2);
      for (const label of labels) expect(label).toMatch(/^\d{2}:\d{2}:\d{2}$/);
    }

    // Fits a 1,280 px screen, and a narrow one: neither the page nor any card scrolls sideways.
    type Box = { scrollWidth: number; clientWidth: number };
    for (const width of [1280, 800, 400]) {
      await page.setViewportSize({ width, height: 900 });
      const fit = await page.evaluate(() => {
        const g = globalThis as unknown as { innerWidth: number; document: { documentElement: Box; querySelectorAll(s: string): ArrayLike<Box> } };
        const cards = Array.from(g.document.querySelectorAll('.card'));
        return { page: g.document.documentElement.scrollWidth, viewport: g.innerWidth, cards: cards.length, overflowing: cards.filter((c) => c.scrollWidth > c.clientWidth).length };
      });
      // Readings per second, buffer, Kinesis, shards, dead letters, ledger, devices, alarms and rules.
      expect(fit.cards).toBe(9);
      expect(fit.page, `page width at ${width} px`).toBeLessThanOrEqual(fit.viewport);
      expect(fit.overflowing, `cards overflowing at ${width} px`).toBe(0);
    }

    await page.setViewportSize({ width: 1280, height: 900 });
    const shot = process.env.DASHBOARD_SCREENSHOT ?? path.join(temp.dir, 'dashboard.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(existsSync(shot)).toBe(true);
  });
});
