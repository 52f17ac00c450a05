// The web UI in a real browser (Debian's chromium, driven by playwright-core) against
// the whole store as `npm start` runs it, quickstart included. Screenshots of the main
// pages go to apps/ui/test-output/screenshots; the README's image is one of them.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { materializationV1, registryV1, statisticsV1 } from '@larder/proto';
import { createClient } from '@larder/rpc';
import { locateChromium } from '@larder/testing';
import { schemaFromText } from '@larder/validation';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import type { DataQuality } from './shared/quality-api';
import { startStore } from './testing/store';
import type { RunningStore } from './testing/store';

jest.setTimeout(180_000);

const SCREENSHOTS = path.resolve(__dirname, '..', 'test-output', 'screenshots');
const home = mkdtempSync(path.join(os.tmpdir(), 'larder-ui-browser-'));
let store: RunningStore;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const executablePath = locateChromium();
  if (executablePath === undefined)
    throw new Error('chromium is not installed: npm test installs it (libs/testing prerequisites), or apt-get install chromium');
  [store, browser] = await Promise.all([
    startStore(home),
    // As root (CI) chromium needs --no-sandbox; /dev/shm is small in containers.
    chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] }),
  ]);
  page = await browser.newPage({ viewport: { width: 1280, height: 800 }, colorScheme: 'light' });
});

afterAll(async () => {
  await browser?.close();
  await store?.stop();
  rmSync(home, { recursive: true, force: true });
});

const url = (p: string): string => `${store.uiUrl}${p}`;
const shoot = (name: string): Promise<Buffer> => page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });

test('the home page lists the project with its counts and what needs attention, in light and dark mode', async () => {
  await page.goto(url('/'));
  const card = page.locator('.card', { hasText: 'driver_stats' });
  await card.waitFor();
  expect(await card.locator('.counts').innerText()).toMatch(/entities\s*1\s*sources\s*3\s*views\s*2\s*on-demand views\s*1\s*services\s*1/);
  // The quickstart materialized everything: nothing is stale.
  await page.getByText('Nothing: every view is fresh').waitFor();
  await shoot('home');

  await page.getByRole('button', { name: 'Dark mode' }).click();
  expect(await page.evaluate(() => document.documentElement.dataset['theme'])).toBe('dark');
  const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  expect(background).toBe('rgb(13, 17, 23)');
  await shoot('home-dark');
  // The choice survives a reload.
  await page.reload();
  await card.waitFor();
  expect(await page.evaluate(() => document.documentElement.dataset['theme'])).toBe('dark');
  await page.getByRole('button', { name: 'Dark mode' }).click();
  expect(await page.evaluate(() => document.documentElement.dataset['theme'])).toBe('light');
});

test('search finds a feature by tag as you type, and the keyboard opens its view', async () => {
  await page.goto(url('/'));
  // "/" jumps to search from anywhere.
  await page.locator('.card').first().waitFor();
  await page.keyboard.press('/');
  await page.waitForURL(url('/search'));
  const input = page.getByLabel('Features by name, description or tag');
  await input.pressSequentially('tag:team=driver_performance acc');
  const hits = page.locator('#search-results a.hit');
  await page.waitForFunction(
    () =>
      [...document.querySelectorAll('#search-results a.hit .ref')].map((e) => e.textContent).join('|') ===
      'driver_hourly_stats:acc_rate|driver_hourly_stats_fresh:acc_rate',
  );
  // The search is a link.
  expect(page.url()).toBe(url(`/search?q=${encodeURIComponent('tag:team=driver_performance acc')}`));
  await shoot('search');

  await input.press('ArrowDown');
  expect(await hits.first().evaluate((a) => a === document.activeElement)).toBe(true);
  await page.keyboard.press('Enter');
  await page.waitForURL(url('/p/driver_stats/feature-view/driver_hourly_stats#feature-acc_rate'));
  await page.locator('h1', { hasText: 'driver_hourly_stats' }).waitFor();
  const row = page.locator('tr#feature-acc_rate');
  expect(await row.innerText()).toContain('Share of offers the driver accepted in the hour.');
  expect(await page.locator('pre.yaml').innerText()).toContain('batch_source: driver_stats_source');
  expect(await page.locator('table', { hasText: 'registry version' }).locator('tbody tr').count()).toBeGreaterThan(0);
  await shoot('feature-view');

  // A deep link to a search shows its results at once.
  await page.goto(url(`/search?q=${encodeURIComponent('type:double')}`));
  await page.waitForFunction(() => document.querySelectorAll('#search-results a.hit').length === 2);
  expect(await hits.allInnerTexts()).toEqual(['transformed_conv_rate:conv_rate_plus_val1 double', 'transformed_conv_rate:conv_rate_plus_val2 double']);
});

test('the on-demand view shows its CEL expressions and inputs', async () => {
  await page.goto(url('/p/driver_stats/on-demand-feature-view/transformed_conv_rate'));
  const cel = page.locator('code.cel').first();
  await cel.waitFor();
  expect(await cel.innerText()).toBe('double(driver_hourly_stats.conv_rate) + double(vals_to_add.val_to_add)');
  expect(await page.locator('section', { hasText: 'Inputs' }).innerText()).toMatch(/feature view driver_hourly_stats[\s\S]*request source vals_to_add/);
  await shoot('on-demand-view');
});

test('the lineage graph links sources to views to services, and a box opens the feature service', async () => {
  await page.goto(url('/lineage/driver_stats'));
  const service = page.locator('svg.lineage a[href="/p/driver_stats/feature-service/driver_activity"]');
  await service.waitFor();
  expect(await page.locator('svg.lineage path.edge').count()).toBeGreaterThanOrEqual(6);
  expect(await page.locator('svg.lineage a.node').count()).toBe(7);
  await shoot('lineage');
  await service.click();
  await page.waitForURL(url('/p/driver_stats/feature-service/driver_activity'));
  await page.locator('h1', { hasText: 'driver_activity' }).waitFor();
  expect(await page.locator('table', { hasText: 'Features served' }).innerText()).toContain('transformed_conv_rate');
});

test('a materialization run appears on the freshness page without a reload', async () => {
  await page.goto(url('/freshness'));
  await page.locator('#jobs tbody tr').first().waitFor();
  const before = await page.locator('#jobs tbody tr').count();
  // Gone on a reload: proves the page updated itself.
  await page.evaluate(() => Object.assign(window, { notReloaded: true }));

  const jobs = createClient(materializationV1.MaterializationService, store.grpc['materialization']!);
  let id: string;
  try {
    id = (await jobs.materialize({ project: 'driver_stats', startTime: timestampFromDate(new Date(0)), endTime: timestampFromDate(new Date()) })).job!.id;
  } finally {
    jobs.close();
  }
  const row = page.locator(`#jobs tr[data-job="${id}"]`);
  await row.waitFor({ timeout: 20_000 });
  await row.locator('.state', { hasText: 'succeeded' }).waitFor({ timeout: 30_000 });
  expect(await row.innerText()).toContain('driver_hourly_stats');
  expect(await page.locator('#jobs tbody tr').count()).toBe(before + 1);
  expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
  await shoot('freshness');
});

test('an unknown object shows a 404 that names it and offers a way on', async () => {
  await page.goto(url('/p/driver_stats/feature-view/no_such_view'));
  await page.getByRole('heading', { level: 1, name: 'Not found: feature view “no_such_view” in project driver_stats' }).waitFor();
  expect(await page.getByRole('alert').innerText()).toContain('no_such_view');
  expect(await page.getByRole('link', { name: 'search for “no_such_view”' }).getAttribute('href')).toBe('/search?q=no_such_view');
  await shoot('not-found');

  const response = await page.goto(url('/no/such/page'));
  expect(response?.status()).toBe(404);
  await page.getByRole('heading', { level: 1, name: 'Not found: page at /no/such/page' }).waitFor();
});

test('axe-core finds no accessibility violation on the main pages, light and dark', async () => {
  const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  const pages: [string, string][] = [
    ['/', '.card'],
    ['/search?q=conv', '#search-results a.hit'],
    ['/p/driver_stats', '.objects a'],
    ['/p/driver_stats/feature-view/driver_hourly_stats', 'tr#feature-conv_rate'],
    ['/p/driver_stats/on-demand-feature-view/transformed_conv_rate', 'code.cel'],
    ['/p/driver_stats/feature-service/driver_activity', 'table'],
    ['/p/driver_stats/data-source/vals_to_add', 'table'],
    ['/lineage/driver_stats', 'svg.lineage a.node'],
    ['/freshness', '#jobs'],
    ['/p/driver_stats/entity/nobody', '[role=alert]'],
  ];
  const violations: string[] = [];
  for (const theme of ['light', 'dark'] as const) {
    await page.goto(url('/'));
    await page.evaluate((t) => window.localStorage.setItem('larder-theme', t), theme);
    for (const [p, ready] of pages) {
      await page.goto(url(p));
      await page.locator(ready).first().waitFor();
      // evaluate runs outside the page's CSP, which (rightly) refuses injected script tags.
      await page.evaluate(axeSource);
      const found = await page.evaluate(async () => {
        const axe = (
          window as unknown as {
            axe: { run(context: Document, options: object): Promise<{ violations: { id: string; help: string; nodes: { target: unknown[] }[] }[] }> };
          }
        ).axe;
        const result = await axe.run(document, { resultTypes: ['violations'] });
        return result.violations.map((v) => `${v.id}: ${v.help} at ${v.nodes.map((n) => JSON.stringify(n.target)).join(', ')}`);
      });
      violations.push(...found.map((v) => `${theme} ${p}: ${v}`));
    }
  }
  expect(violations).toEqual([]);
});

test("the data-quality page draws a view's histogram from its stored statistics and shows a planted anomaly", async () => {
  // Planted: a schema whose int domain ends at 500, below the sample's avg_daily_trips
  // (0 to 999); then two days of statistics through the StatisticsService.
  const DAY = 86_400_000;
  const today = Math.floor(Date.now() / DAY) * DAY;
  const registry = createClient(registryV1.RegistryService, store.grpc['registry']!);
  const statistics = createClient(statisticsV1.StatisticsService, store.grpc['offline-retrieval']!);
  try {
    const view = (await registry.getFeatureView({ project: 'driver_stats', name: 'driver_hourly_stats' })).featureView!;
    const schema = schemaFromText(
      'feature { name: "avg_daily_trips" type: INT int_domain { min: 0 max: 500 } }\nfeature { name: "conv_rate" ' +
        'type: FLOAT float_domain { min: 0 max: 1 } }\nfeature { name: "acc_rate" type: FLOAT }',
    );
    await registry.applyRegistry({
      project: 'driver_stats',
      featureViews: [{ ...view, validation: create(registryV1.FeatureViewValidationSchema, { schema }) }],
    });
    for (const start of [today - 3 * DAY, today - 2 * DAY]) {
      await statistics.computeStatistics({
        scope: {
          project: 'driver_stats',
          kind: {
            case: 'featureView',
            value: {
              featureView: 'driver_hourly_stats',
              eventTime: { start: timestampFromDate(new Date(start)), end: timestampFromDate(new Date(start + DAY)) },
            },
          },
        },
      });
    }
  } finally {
    registry.close();
    statistics.close();
  }

  await page.goto(url('/'));
  await page.evaluate(() => window.localStorage.setItem('larder-theme', 'light'));
  await page.goto(url('/p/driver_stats/feature-view/driver_hourly_stats'));
  await page.getByRole('link', { name: 'histograms, anomalies and drift' }).click();
  await page.waitForURL(url('/quality/driver_stats/driver_hourly_stats'));
  // The schema reaches the UI through the registry; reload until the page has it.
  const anomaly = page.locator('#anomalies', { hasText: 'INT_TYPE_BIG_INT' });
  for (let i = 0; i < 40 && !(await anomaly.isVisible()); i++) {
    await page.waitForTimeout(250);
    if (i % 4 === 3) await page.reload();
  }
  expect(await anomaly.innerText()).toMatch(
    /avg_daily_trips: Out-of-range values INT_TYPE_BIG_INT\s+The largest value, \d+, is above the domain's maximum 500\./,
  );

  // Bar heights follow the stored bucket counts: 10 buckets, 5 drivers x 24 hours.
  const quality = (await page.evaluate(async () => (await fetch('/api/quality/driver_stats/driver_hourly_stats')).json())) as DataQuality;
  const counts = quality.features.find((f) => f.name === 'avg_daily_trips')!.numeric!.histogram.map((b) => b.count);
  expect(counts).toHaveLength(10);
  expect(counts.reduce((a, b) => a + b, 0)).toBeCloseTo(120, 6);
  const bars = page.locator('#quality-avg_daily_trips svg.histogram rect.bar');
  const heights = await bars.evaluateAll((rects) => rects.map((r) => Number(r.getAttribute('height'))));
  const [maxCount, maxHeight] = [Math.max(...counts), Math.max(...heights)];
  expect(heights.map((h) => Number((h / maxHeight).toFixed(3)))).toEqual(counts.map((c) => Number((c / maxCount).toFixed(3))));
  // Buckets wholly above the domain's 500 are drawn as outside it.
  expect(await page.locator('#quality-avg_daily_trips svg.histogram rect.bar.outside').count()).toBeGreaterThanOrEqual(3);
  expect(await page.locator('svg.timeline a.span').count()).toBe(2);
  await shoot('data-quality');

  const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  for (const theme of ['dark', 'light'] as const) {
    await page.evaluate((t) => window.localStorage.setItem('larder-theme', t), theme);
    await page.reload();
    await page.locator('#quality-avg_daily_trips svg.histogram').waitFor();
    await page.evaluate(axeSource);
    const found = await page.evaluate(async () => {
      const axe = (
        window as unknown as { axe: { run(context: Document, options: object): Promise<{ violations: { id: string; nodes: { target: unknown[] }[] }[] }> } }
      ).axe;
      return (await axe.run(document, { resultTypes: ['violations'] })).violations.map(
        (v) => `${v.id} at ${v.nodes.map((n) => JSON.stringify(n.target)).join(', ')}`,
      );
    });
    expect([theme, found]).toEqual([theme, []]);
  }

  // The home page lists the view under "needs attention", linking here.
  await page.goto(url('/'));
  const item = page.locator('.attention a[href="/quality/driver_stats/driver_hourly_stats"]');
  await item.waitFor();
  expect(await item.innerText()).toMatch(/^driver_hourly_stats: \d+ anomal(y|ies) in its newest statistics \(avg_daily_trips/);
});
