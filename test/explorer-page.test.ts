import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFixture, type ServerFixture } from './graphql/server-fixture.js';

/** Debian's Chromium (`.ci/run` installs it with apt); playwright-core drives it, nothing is downloaded. */
const CHROMIUM = process.env.GRAFT_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DOCS = join(ROOT, 'docs');
/** Points requested from the target model's item map: fewer than it has, so it really is a sample. */
const SAMPLE = 150;
/** UI waits: UMAP and the comparison run on a machine other test files keep busy (each test allows 300 s). */
const WAIT = { timeout: 120_000 };

/**
 * The page's globals, loosely typed: this file is compiled with Node's types only (no DOM lib).
 * Callbacks run in the browser, so each one casts `globalThis` itself (casts are erased).
 */
interface PageGlobals {
  document: { getElementById(id: string): { getBoundingClientRect(): { left: number; top: number } } | null };
  sessionStorage: { getItem(key: string): string | null };
  localStorage: { length: number };
  Chart: { getChart(canvas: unknown): any };
}

/** Chart.js's own view of a canvas: its type and the points of each dataset. */
function chartState(page: Page, canvasId: string): Promise<{ type: string; labels: string[]; datasets: Array<{ label: string; points: number }> } | null> {
  return page.evaluate((id) => {
    const g = globalThis as unknown as PageGlobals;
    const chart = g.Chart.getChart(g.document.getElementById(id));
    if (!chart) return null;
    return {
      type: chart.config.type as string,
      labels: (chart.data.labels ?? []).map(String),
      datasets: chart.data.datasets.map((d: { label: string; data: unknown[] }) => ({ label: d.label, points: d.data.length })),
    };
  }, canvasId);
}

describe('embedding explorer page in Chromium', () => {
  let fx: ServerFixture;
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  let base: string;
  const problems: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`the browser test needs Chromium at ${CHROMIUM}: install Debian's package (apt-get install chromium; .ci/run does) or point GRAFT_CHROMIUM at a Chromium binary`);
    }
    // The page under test is the current source: compile it as `npm run build` does (one file, a few seconds).
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    execFileSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.page.json')], { cwd: ROOT, stdio: 'pipe' });
    fx = await startFixture('pglite');
    base = `http://127.0.0.1:${fx.server.port}`;
    profile = mkdtempSync(join(tmpdir(), 'graft-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1440, height: 900 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    mkdirSync(DOCS, { recursive: true });
  }, 400_000);

  afterAll(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await fx?.close();
  });

  it('serves the page from the API server (no CDN) and keeps the key in the tab only', async () => {
    const response = await page.goto(`${base}/explorer`);
    expect(response!.status()).toBe(200);
    expect(response!.headers()['content-security-policy']).toMatch(/script-src 'self'/);
    const scripts = await page.$$eval('script', (nodes) => nodes.map((n) => (n as unknown as { src: string }).src));
    expect(scripts.length).toBe(2);
    for (const src of scripts) expect(new URL(src).origin).toBe(base);

    const storage = () => {
      const g = globalThis as unknown as PageGlobals;
      return { session: g.sessionStorage.getItem('graft.explorer.key'), local: g.localStorage.length };
    };
    // An APP key is turned away, saying which role is needed, and not kept.
    await page.fill('#key', fx.keys.app);
    await page.click('#use-key');
    await page.waitForSelector('#status.error', WAIT);
    expect(await page.textContent('#status')).toMatch(/role APP; the explorer needs an ANALYST or ADMIN key/);
    expect((await page.evaluate(storage)).session).toBeNull();

    await page.fill('#key', fx.keys.analyst);
    await page.click('#use-key');
    await page.waitForSelector('body[data-ready="true"]', WAIT);
    expect(await page.textContent('#viewer')).toBe('analyst (ANALYST)');
    expect(await page.isVisible('#key-form')).toBe(false);
    expect(await page.isVisible('#forget-key')).toBe(true);
    expect(await page.evaluate(storage)).toEqual({ session: fx.keys.analyst, local: 0 });
    // Another tab of the same browser profile does not get it.
    const other = await context.newPage();
    await other.goto(`${base}/explorer`);
    expect((await other.evaluate(storage)).session).toBeNull();
    expect(await other.isVisible('#key-form')).toBe(true);
    await other.close();
  }, 300_000);

  it('draws the requested number of points of the target model, titles on hover, neighbours on click', async () => {
    const itemRows = await fx.db.db
      .selectFrom('embeddings')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('model_id', '=', fx.targetModelId)
      .where('entity_kind', '=', 'ITEM')
      .executeTakeFirstOrThrow();
    expect(Number(itemRows.n)).toBeGreaterThan(SAMPLE);

    await page.selectOption('#map-model', fx.targetModelId);
    await page.selectOption('#map-kind', 'ITEM');
    await page.selectOption('#map-method', 'UMAP');
    await page.selectOption('#map-color', 'TAG');
    await page.fill('#map-sample', String(SAMPLE));
    await page.click('#map-draw');
    await page.waitForSelector('#map-box[data-state="ready"]', WAIT);
    expect(await page.getAttribute('#map-box', 'data-points')).toBe(String(SAMPLE));
    const chart = (await chartState(page, 'map-chart'))!;
    expect(chart.type).toBe('scatter');
    // One dataset per colour (tag), plus the empty overlay for the selection.
    const overlay = chart.datasets.at(-1)!;
    expect(overlay).toEqual({ label: 'selected + neighbours', points: 0 });
    expect(chart.datasets.slice(0, -1).reduce((n, d) => n + d.points, 0)).toBe(SAMPLE);
    expect(chart.datasets.length).toBeGreaterThan(2);

    // Where Chart.js drew the first point of the largest group, in page coordinates.
    const target = await page.evaluate(() => {
      const g = globalThis as unknown as PageGlobals;
      const canvas = g.document.getElementById('map-chart')!;
      const c = g.Chart.getChart(canvas);
      const element = c.getDatasetMeta(0).data[0];
      const raw = c.data.datasets[0].data[0] as { id: string; label: string };
      const box = canvas.getBoundingClientRect();
      return { x: box.left + element.x, y: box.top + element.y, id: raw.id, label: raw.label };
    });
    await page.mouse.move(target.x, target.y);
    await expect
      .poll(() => page.evaluate(() => {
        const g = globalThis as unknown as PageGlobals;
        return (g.Chart.getChart(g.document.getElementById('map-chart')).tooltip.body?.[0]?.lines?.join(' ') ?? '') as string;
      }), WAIT)
      .toContain(target.label);

    await page.mouse.click(target.x, target.y);
    await page.waitForSelector('#neighbor-list li:nth-child(10)', WAIT);
    const neighbours = await page.$$eval('#neighbor-list li', (items) => items.map((li) => li.getAttribute('data-id')!));
    expect(neighbours).toHaveLength(10);
    expect(new Set(neighbours).size).toBe(10);
    // The list is the model's exact neighbour search for the point that was hit (the point under the cursor may be a neighbour drawn on top).
    const clicked = (await page.getAttribute('#neighbor-list', 'data-of'))!;
    expect(await page.textContent('#neighbor-title')).toContain(clicked);
    expect(neighbours).not.toContain(clicked);
    const circled = await chartState(page, 'map-chart');
    expect(circled!.datasets.at(-1)!.points).toBeGreaterThanOrEqual(1);
    await page.screenshot({ path: join(DOCS, 'explorer.png') });
  }, 300_000);

  it('compares the source model with the transferred model: overlap, layers, the transfer report, the shared users side by side', async () => {
    await page.click('nav button[data-view="compare"]');
    await page.selectOption('#compare-a', fx.sourceModelId);
    await page.selectOption('#compare-b', fx.targetModelId);
    await page.click('#compare-run');
    await page.waitForSelector('#compare-box[data-state="ready"]', WAIT);

    const overlap = Number(await page.textContent('#overlap-users .value'));
    expect(overlap).toBeGreaterThanOrEqual(0);
    expect(overlap).toBeLessThanOrEqual(1);
    expect(await page.textContent('#overlap-items .value')).toBe('n/a'); // target items are not source items
    expect(Number((await page.textContent('#shared-users .value'))!.replace(/,/g, ''))).toBeGreaterThan(0);
    const layers = Number(await page.getAttribute('#compare-box', 'data-layers'));
    expect(layers).toBeGreaterThan(3);
    expect(await page.$$eval('#layers-table tbody tr', (rows) => rows.length)).toBe(layers);
    // PARTIAL with layer 0 frozen: the embedding tables did not move.
    expect(await page.textContent('#layers-table tbody tr:first-child')).toContain('0 (unchanged)');
    expect((await chartState(page, 'layers-chart'))!.datasets[0]!.points).toBe(layers);

    const gains = (await chartState(page, 'gain-chart'))!;
    expect(gains.datasets.map((d) => d.label)).toEqual(['95% interval', 'gain (transferred − baseline)']);
    expect(gains.datasets[0]!.points).toBeGreaterThan(0);
    // Quality gains on their own scale; popularity@K (event counts) goes to a table.
    expect(gains.labels.length).toBeGreaterThan(0);
    for (const label of gains.labels) expect(label).toMatch(/^(hr|ndcg|recall)@\d+$|^mrr$/);
    expect(await page.$$eval('#report-other td:first-child', (cells) => cells.map((c) => c.textContent ?? ''))).toEqual(
      expect.arrayContaining([expect.stringMatching(/^popularity@10: /)]),
    );
    expect(await page.textContent('#report-flag')).toMatch(/transfer/);
    expect(await page.$$eval('#report-overlap li', (items) => items.length)).toBeGreaterThan(0);
    expect((await chartState(page, 'strata-chart'))!.datasets).toHaveLength(3);

    const shared = Number(await page.getAttribute('#shared-box', 'data-shared'));
    expect(shared).toBeGreaterThan(0);
    expect((await chartState(page, 'shared-a'))!.datasets[0]!.points).toBe(shared);
    expect((await chartState(page, 'shared-b'))!.datasets[0]!.points).toBe(shared);
    await page.screenshot({ path: join(DOCS, 'explorer-compare.png'), fullPage: true });
  }, 300_000);

  it('shows the training curves of the transferred model (loss and validation per epoch)', async () => {
    await page.click('nav button[data-view="training"]');
    await page.selectOption('#training-model', fx.targetModelId);
    await page.click('#training-show');
    await page.waitForSelector('#training-box[data-state="ready"]', WAIT);
    const loss = (await chartState(page, 'loss-chart'))!;
    expect(loss.type).toBe('line');
    expect(loss.datasets.length).toBeGreaterThanOrEqual(1);
    // The fixture's demo trains 2 epochs, then refines the item rows for up to 2 more (softmax, kept or put back on the carve).
    const stored = await fx.db.db.selectFrom('models').select('metrics').where('id', '=', fx.targetModelId).executeTakeFirstOrThrow();
    const training = (stored.metrics as { training: { epochs: number; refinedEpochs?: number } }).training;
    expect(training.epochs).toBeGreaterThanOrEqual(2);
    expect(training.epochs).toBeLessThanOrEqual(4);
    expect(loss.datasets[0]!.points).toBe(training.epochs);
    expect((await chartState(page, 'validation-chart'))!.datasets[0]!.points).toBe(training.epochs);
    const info = await page.textContent('#training-info');
    expect(info).toMatch(new RegExp(`${training.epochs} epochs`));
    if (training.epochs > 2) expect(info).toMatch(training.refinedEpochs ? /item rows refined/ : /refined the item rows and were put back/);
  }, 300_000);

  it('left no errors in the page or its console', () => {
    expect(problems).toEqual([]);
  });
});
