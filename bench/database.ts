import { startTemporaryPostgres } from '../shared/local/embedded-postgres.ts';

/** The database a benchmark runs on: DATABASE_URL, else a throw-away embedded PostgreSQL. */
export async function benchDatabase(): Promise<{ url: string; stop: () => Promise<void> }> {
  const given = process.env.DATABASE_URL;
  if (given) return { url: given, stop: async () => {} };
  const server = await startTemporaryPostgres('landfall-bench-');
  return { url: server.url, stop: () => server.stop() };
}
