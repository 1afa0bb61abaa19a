import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { SAMPLE_CONFIG, SAMPLE_FILES } from '../../cli/commands/dev.ts';
import { loadConfigFile } from '../../shared/environment/config-file.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { startTestStack } from '../helpers/local-stack.ts';

// The counter sample `npm start` loads (README, "The counter sample"): its receipts and final
// values are the ones the README tells a newcomer to check by hand.

const db = await createTestDatabase();
await db.sql.unsafe(readFileSync(new URL('../../samples/schema.sql', import.meta.url), 'utf8'));
const config = loadConfigFile(SAMPLE_CONFIG);
const { run } = await startTestStack(config, db.url);

test('the page_visits sample: two files, visits added once each, first_seen kept, last_seen the latest, a blank title ignored', async () => {
  const files = SAMPLE_FILES.filter((f) => f.includes('/visits/'));
  expect(files.map((f) => f.split('/').at(-1))).toEqual(['2026-11-01-visits.csv', '2026-11-02-visits.csv']);

  const first = await run(files[0]!);
  const second = await run(files[1]!);

  expect(first).toMatchObject({ status: 'complete', read: 4, collapsed: 1, inserted: 3, updated: 0, unchanged: 0, addsUp: true });
  expect(second).toMatchObject({ status: 'complete', read: 4, inserted: 1, updated: 3, unchanged: 0, addsUp: true });
  const stored = await db.sql`SELECT page, visits, to_char(first_seen, 'YYYY-MM-DD') AS first_seen, to_char(last_seen, 'YYYY-MM-DD') AS last_seen, title FROM page_visits ORDER BY page`;
  expect(stored.map((r) => ({ ...r }))).toEqual([
    { page: '/blog', visits: 2, first_seen: '2026-11-02', last_seen: '2026-11-02', title: 'Blog' },
    { page: '/docs', visits: 5, first_seen: '2026-11-01', last_seen: '2026-11-02', title: 'Documentation' },
    { page: '/home', visits: 9, first_seen: '2026-11-01', last_seen: '2026-11-02', title: 'Home' },
    { page: '/pricing', visits: 2, first_seen: '2026-11-01', last_seen: '2026-11-02', title: 'Pricing' },
  ]);

  // The same file dropped again is the same batches: nothing is added twice.
  const again = await run(files[1]!);
  expect(again.status).toBe('complete');
  expect((await db.sql`SELECT sum(visits)::int AS total FROM page_visits`)[0]!.total).toBe(18);
}, 120_000);
