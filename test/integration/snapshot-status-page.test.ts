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

  const page = await startStatusPage(db.sql);
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
    await tab.waitForFunction("document.querySelectorAll('#files tbody tr').length === 3", { timeout: 20_000 });
    const rows = await tab.$$eval('#files tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
    const byFile = new Map(rows.map((r) => [r[0], r]));
    expect(byFile.get('task_photos/photos-2.csv')!.slice(2)).toEqual(['complete', expect.any(String), '2', '0', '0', '0', '0', '2', '0', '0', '0', 'yes', '1']);
    const held = byFile.get('task_photos/photos-3.csv')!;
    expect(held[2]).toBe('held');
    expect(held.at(-1)).toMatch(/^held: it would remove 3 of 4 stored rows \(75%\) of task_pk=2, more than maxRemovedShare 50%.*; go ahead: landfall snapshot confirm task_photos\/photos-3\.csv$/);
  } finally {
    await browser.close();
  }
}, 120_000);
