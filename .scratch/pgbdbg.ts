import postgres from 'postgres';
import { startTemporaryPostgres } from '/work/main/shared/local/embedded-postgres.ts';
import { startPgbouncer } from '/work/main/test/helpers/pgbouncer.ts';
const s = await startTemporaryPostgres();
console.log('pg', s.url);
const b = await startPgbouncer(s.url);
console.log('bouncer', b.urlFor(s.url));
const sql = postgres(b.urlFor(s.url), { prepare: false, max: 2, connect_timeout: 5 });
try { console.log(await sql`select 1 as x`); } catch (e) { console.log('err', e); }
const p = postgres(b.urlFor(s.url), { prepare: true, max: 4 });
const errs = await Promise.allSettled(Array.from({length: 50}, (_, i) => p`select ${i}::int as x`));
console.log('prepared through bouncer:', errs.filter(e=>e.status==='rejected').map(e=>(e as any).reason.code).slice(0,3));
await sql.end(); await p.end(); await b.stop(); await s.stop();
process.exit(0);
