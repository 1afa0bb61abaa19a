import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { startStatusPage } from '../../cli/status-page.ts';
import { parseConfig } from '../../shared/core/config.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { startTestStack } from '../helpers/local-stack.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`\n*** snapshot status page browser test SKIPPED: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH) ***\n`);

test.runIf(haveChromium || process.env.CI === 'true')('the status page shows what a snapshot file removed, and a held one with its numbers and the command that goes ahead', async () => {
  expect(haveChromium, `no Chromium at ${CHROMIUM}: CI must install it (.ci/run)`).toBe(true);
  const db = await createTestDatabase();
  await db.sql`CREATE TABLE task_photos (task_pk int NOT NULL, photo_id int NOT NULL, url text, _landfall_arrival text COLLATE "C", PRIMARY KEY (task_pk, photo_id))`;
  const config = parseConfig({ tables: [{ table: 'task_photos', conflictKey: ['task_pk', 'photo_id'], mode: 'snapshot', scope: ['task_pk'], partitions: 2 }] });
  const t = await startTestStack(config, db.url);
  const csv = (rows: [number, number][]) => `task_pk,photo_id,url\n${rows.map(([task, p]) => `${task},${p},u${p}`).join('\n')}\n`;
  await t.run(t.file('photos-1.csv', csv([[1, 1], [1, 2], [1, 3], [2, 1], [2, 2], [2, 3], [2, 4]])));
  expect(await t.run(t.file('photos-2.csv', csv([[1, 1], [1, 2]])))).toMatchObject({ status: 'complete', removed: 1 });
  expect(await t.run(t.file('photos-3.csv', csv([[2, 1]])))).toMatchObject({ status: 'held', removed: 0 });

  const page = await startStatusPage(db.sql, { port: 0 });
  afterAll(() => page.close());
  const { launch } = await import('puppeteer-core');
  const browser = await launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${mkdtempSync(join(tmpdir(), 'landfall-chromium-'))}`],
  });
  try {
    const tab = await browser.newPage();
    await tab.goto(page.url, { waitUntil: 'load' });
    await tab.waitForFunction("document.querySelectorAll('#files tbody tr[data-file]').length === 3", { timeout: 20_000 });
    const head = await tab.$$eval('#files-head th', (ths) => ths.map((th) => th.textContent ?? ''));
    const rows = await tab.$$eval('#files tbody tr[data-file]', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
    const byFile = new Map(rows.map((r) => [r[head.indexOf('file')], r]));
    const removed = head.indexOf('removed');
    // `removed` is a column of its own, beside the rule-4 counts (not inside read).
    expect(removed).toBeGreaterThan(head.indexOf('quarantined'));
    expect(byFile.get('task_photos/photos-2.csv')![removed]).toBe('1');
    expect(byFile.get('task_photos/photos-2.csv')![head.indexOf('state')]).toContain('complete');
    const held = byFile.get('task_photos/photos-3.csv')!;
    expect(held[removed]).toBe('0');
    // The held state's badge folds its reason (what it would remove) and the command that goes ahead.
    expect(held[head.indexOf('state')]).toMatch(/^held/);
    expect(held[head.indexOf('state')]).toMatch(/it would remove 3 of 4 stored rows \(75%\) of task_pk=2, more than maxRemovedShare 50%/);
    expect(held[head.indexOf('state')]).toContain('landfall snapshot confirm task_photos/photos-3.csv');
    // The band at the top lists it as needing attention.
    expect(await tab.$eval('#attention', (box) => box.textContent ?? '')).toMatch(/1 file held/);
  } finally {
    await browser.close();
  }
}, 120_000);
