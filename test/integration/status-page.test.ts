/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { startStatusPage, startStatusPageOnStablePort } from '../../cli/status-page.ts';
import { parseConfig } from '../../shared/core/config.ts';
import { recordBlockedTable } from '../../shared/postgres/ledger/blocked-tables.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { startTestStack } from '../helpers/local-stack.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  // Loud, not silent: the page is not tested on this machine. In CI a missing browser fails.
  console.warn(`\n*** status page browser test SKIPPED: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH) ***\n`);
}

const db = await createTestDatabase();

test.runIf(haveChromium || process.env.CI === 'true')(
  'the status page leads with what needs attention, lists files newest first with folded reasons, and draws a time axis (headless Chromium)',
  async () => {
    expect(haveChromium, `no Chromium at ${CHROMIUM}: CI must install it (.ci/run)`).toBe(true);
    await db.sql`CREATE TABLE accounts (id int PRIMARY KEY, balance numeric(12,2) NOT NULL CHECK (balance >= 0), seq int NOT NULL)`;
    const config = parseConfig({ tables: [{ table: 'accounts', conflictKey: ['id'], version: 'seq', partitions: 2 }] });
    const t = await startTestStack(config, db.url);
    // GIVEN three files, oldest first: one with a row PostgreSQL refuses, one with a column the
    // table does not have (moved aside whole), one that loads clean; and a blocked table.
    const rows = Array.from({ length: 30 }, (_, i) => `${i},${i === 7 ? '-5.00' : '10.00'},1`);
    expect(await t.run(t.file('accounts-first.csv', `id,balance,seq\n${rows.join('\n')}\n`), 'accounts')).toMatchObject({ status: 'complete', quarantined: 1 });
    const aside = await t.run(t.file('accounts-extra-column.csv', 'id,balance,seq,nickname\n1,1.00,2,x\n'), 'accounts');
    expect(aside).toMatchObject({ status: 'moved-aside' });
    expect(await t.run(t.file('accounts-later.csv', 'id,balance,seq\n100,1.00,1\n'), 'accounts')).toMatchObject({ status: 'complete', inserted: 1 });
    await recordBlockedTable(db.sql, 'accounts', { code: 'table-config', reason: 'no unique index or constraint matches conflictKey (id)', fix: 'CREATE UNIQUE INDEX CONCURRENTLY …' });

    const page = await startStatusPage(db.sql, { queueDepths: () => t.stack.queueDepths() });
    afterAll(() => page.close());
    expect(page.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const { launch } = await import('puppeteer-core');
    const browser = await launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${mkdtempSync(join(tmpdir(), 'landfall-chromium-'))}`],
    });
    try {
      const tab = await browser.newPage();
      await tab.setViewport({ width: 1280, height: 900 });
      // Two files a page, to see the paging.
      await tab.goto(`${page.url}?limit=2`, { waitUntil: 'load' });
      await tab.waitForSelector('body[data-loaded="true"] #attention li.item', { timeout: 30_000 });

      // THEN the band leads, with each thing that needs attention and its fix.
      const band = await tab.$eval('#attention', (box) => ({
        top: box.getBoundingClientRect().top,
        filesTop: document.getElementById('files')!.getBoundingClientRect().top,
        cls: box.className,
        items: [...box.querySelectorAll('li.item')].map((li) => ({ kind: (li as HTMLElement).dataset.kind, title: li.querySelector('.title')!.textContent, fix: li.querySelector('.fix code')!.textContent })),
      }));
      expect(band.cls).toBe('alarm');
      expect(band.top).toBeLessThan(band.filesTop);
      expect(band.items.map((i) => i.kind)).toEqual(['blocked-table', 'file-state', 'quarantine']);
      expect(band.items[0]!.title).toContain('1 table is blocked');
      expect(band.items[1]!.title).toBe('1 file moved aside');
      expect(band.items[1]!.fix).toContain('landfall forget FILE');
      expect(band.items[2]!.title).toContain('1 quarantined row open in 1 file');
      expect(band.items[2]!.fix).toContain('landfall quarantine ls --table accounts');
      for (const item of band.items) expect(item.fix.length).toBeGreaterThan(10);
      // The queues' depths are there (nothing in the DLQs here).
      expect(await tab.$$eval('#queues span', (spans) => spans.map((s) => (s as HTMLElement).dataset.queue))).toEqual(['intake', 'intakeDlq', 'batches', 'batchesDlq', 'parking']);

      // Files newest first, two a page.
      const names = () => tab.$$eval('#files tbody tr td.name', (tds) => tds.map((td) => td.textContent));
      expect(await names()).toEqual(['accounts/accounts-later.csv', 'accounts/accounts-extra-column.csv']);
      expect(await tab.$eval('#page-info', (e) => e.textContent)).toBe('1–2 of 3');
      // Clicks in the page itself: the rows are rebuilt every 2 s, an element handle may go stale.
      const click = (selector: string) => tab.evaluate((sel: string) => (document.querySelector(sel) as HTMLElement).click(), selector);
      await click('#next');
      await tab.waitForFunction("document.getElementById('page-info').textContent === '3–3 of 3'", { timeout: 20_000 });
      expect(await names()).toEqual(['accounts/accounts-first.csv']);
      await click('#prev');
      await tab.waitForFunction("document.getElementById('page-info').textContent === '1–2 of 3'", { timeout: 20_000 });

      // The moved-aside file's reason is folded: the row stays one line high until it is opened,
      // then the reason and the fix fold out in a row of their own under it.
      const row = 'tr[data-file] details.why';
      const folded = await tab.$eval(row, (d) => ({ open: (d as HTMLDetailsElement).open, badge: d.querySelector('summary')!.textContent, rowHeight: d.closest('tr')!.getBoundingClientRect().height, whyRows: document.querySelectorAll('tr.why-row').length }));
      expect(folded).toMatchObject({ open: false, badge: 'moved aside', whyRows: 0 });
      expect(folded.rowHeight).toBeLessThan(40);
      await click(`${row} summary`);
      await tab.waitForSelector('tr.why-row .reason', { timeout: 20_000 });
      // It stays open through the page's next refresh.
      const refreshed = await tab.$eval('#updated', (e) => e.textContent);
      await tab.waitForFunction((before: string) => document.getElementById('updated')!.textContent !== before, { timeout: 20_000 }, refreshed);
      const opened = await tab.$eval('tr.why-row', (tr) => ({
        under: (tr.previousElementSibling as HTMLElement).dataset.file === (tr as HTMLElement).dataset.why,
        reason: tr.querySelector('.reason')!.textContent,
        fix: tr.querySelector('.fix code')!.textContent,
        shown: tr.querySelector('.reason')!.checkVisibility(),
        fileRowHeight: tr.previousElementSibling!.getBoundingClientRect().height,
      }));
      expect(opened).toEqual({ under: true, reason: aside.reason, fix: aside.fix, shown: true, fileRowHeight: folded.rowHeight });

      // A filter by state.
      await tab.select('#filter-state', 'moved-aside');
      await tab.waitForFunction("document.getElementById('page-info').textContent === '1–1 of 1'", { timeout: 20_000 });
      expect(await names()).toEqual(['accounts/accounts-extra-column.csv']);

      // One time zone, shown: UTC in the header and on the chart's time axis, with bars.
      expect(await tab.$eval('header', (h) => h.textContent)).toMatch(/updated \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
      const ticks = await tab.$$eval('#chart text.tick', (texts) => texts.map((x) => x.textContent));
      expect(ticks.length).toBeGreaterThanOrEqual(4);
      for (const tick of ticks) expect(tick).toMatch(/^\d\d:\d\d$/);
      expect(await tab.$$eval('#chart rect', (bars) => bars.length)).toBeGreaterThan(0);

      // A click on a file lists its batches.
      await tab.select('#filter-state', '');
      await tab.waitForFunction("document.getElementById('page-info').textContent === '1–2 of 3'", { timeout: 20_000 });
      await click('#files tbody tr[data-file] td.name');
      await tab.waitForSelector('#batches tbody tr', { timeout: 20_000 });

      const shot = process.env.LANDFALL_SCREENSHOT ?? join(t.dir, 'status-page.png');
      await tab.screenshot({ path: shot, fullPage: true });
      // Not blank: decoded by the browser, the picture has many colours and much that is not background.
      const blank = await browser.newPage();
      const picture = await blank.evaluate(async (base64: string) => {
        const image = new Image();
        image.src = `data:image/png;base64,${base64}`;
        await image.decode();
        const canvas = document.createElement('canvas');
        canvas.width = image.width;
        canvas.height = image.height;
        const context = canvas.getContext('2d')!;
        context.drawImage(image, 0, 0);
        const { data } = context.getImageData(0, 0, image.width, image.height);
        const colours = new Set<number>();
        let inked = 0;
        for (let i = 0; i < data.length; i += 4) {
          colours.add((data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!);
          if (data[i]! + data[i + 1]! + data[i + 2]! < 600) inked++;
        }
        return { width: image.width, height: image.height, colours: colours.size, inked: inked / (data.length / 4) };
      }, readFileSync(shot).toString('base64'));
      expect(picture.width).toBe(1280);
      expect(picture.colours).toBeGreaterThan(50);
      expect(picture.inked).toBeGreaterThan(0.02);
    } finally {
      await browser.close();
    }
  },
  180_000,
);

test('the page keeps its port: the one asked for, else the last one, else any free one with a note saying why', async () => {
  const first = await startStatusPageOnStablePort(db.sql, { remembered: null });
  try {
    // GIVEN the remembered port is taken by another program
    expect(first.note === null || first.note.includes('the default, 8420, is taken')).toBe(true);
    const second = await startStatusPageOnStablePort(db.sql, { remembered: first.port });
    await second.close();
    expect(second.note).toBe(`status page: port ${second.port}, because the last one, ${first.port}, is taken by another program (--status-port N fixes one)`);
    // WHEN it is free again, the page gets it back.
    await first.close();
    const third = await startStatusPageOnStablePort(db.sql, { remembered: first.port });
    await third.close();
    expect(third).toMatchObject({ port: first.port, note: null });
  } finally {
    await first.close().catch(() => {});
  }
  // A port asked for and taken is an error that names it.
  const blocker = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => blocker.once('listening', r));
  const taken = (blocker.address() as { port: number }).port;
  await expect(startStatusPageOnStablePort(db.sql, { requested: taken })).rejects.toThrow(`cannot listen on 127.0.0.1:${taken}: the port is in use; pick another with --status-port N`);
  blocker.close();
});
