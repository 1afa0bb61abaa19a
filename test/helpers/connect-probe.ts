// Run as a child process (`tsx connect-probe.ts '<json>'`) so that NODE_EXTRA_CA_CERTS, which
// Node reads once at start-up, can be set the way Lambda sets it. Prints one JSON line.
import { connect, type ConnectOptions } from '../../shared/postgres/db.ts';

const { options, password } = JSON.parse(process.argv[2] ?? '{}') as { options: ConnectOptions; password?: string };
const sql = connect({ ...options, ...(password === undefined ? {} : { tokenProvider: async () => password }) });
try {
  const [row] = await sql<{ ssl: boolean }[]>`SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()`;
  console.log(JSON.stringify({ ssl: row?.ssl ?? false }));
} catch (error) {
  console.log(JSON.stringify({ error: (error as Error).message }));
} finally {
  await sql.end({ timeout: 1 });
}
