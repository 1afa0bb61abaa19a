import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Sql } from '../shared/postgres/db.ts';
import { appliedRowsPerSecond, batchReceipts, fileReceipts, ledgerExists, listRejects } from '../shared/postgres/ledger/files.ts';
import { listBlockedTables } from '../shared/postgres/ledger/blocked-tables.ts';
import { receiptOf } from '../shared/local/run-files.ts';
import { listQuarantine } from '../shared/postgres/quarantine-retry.ts';
import { batchAddsUp, fileBalance } from './format.ts';

/** Rows each list on the page shows at most. */
const LIST_LIMIT = 200;

/** The page's data, as JSON: the same receipts `status --json` prints. */
async function api(sql: Sql, path: string): Promise<unknown> {
  if (!(await ledgerExists(sql))) return path === '/api/rate' || path.startsWith('/api/files') || path === '/api/quarantine' || path === '/api/rejects' || path === '/api/blocked' ? [] : null;
  if (path === '/api/files') return (await fileReceipts(sql)).map((r) => ({ ...receiptOf({ path: r.file, key: r.file }, r), addsUp: fileBalance(r).addsUp }));
  const batches = /^\/api\/files\/([0-9a-f]{1,64})\/batches$/.exec(path);
  if (batches) return (await batchReceipts(sql, batches[1]!)).map((b) => ({ ...b, addsUp: batchAddsUp(b) }));
  // Without the rows' values: the page shows where a row came from and why it failed.
  if (path === '/api/quarantine') {
    return (await listQuarantine(sql, { limit: LIST_LIMIT })).map((q) => ({ id: q.id, table: q.table, file: q.fileKey, row: q.rowNumber, sqlstate: q.sqlstate, message: q.message, firstSeen: q.firstSeen }));
  }
  if (path === '/api/rejects') return listRejects(sql, { limit: LIST_LIMIT });
  if (path === '/api/rate') return appliedRowsPerSecond(sql);
  // Tables the consumer refuses: the reason and the fix (their files show as blocked).
  if (path === '/api/blocked') return listBlockedTables(sql);
  return undefined;
}

export interface StatusPage {
  url: string;
  close(): Promise<void>;
}

/**
 * `landfall dev`'s status page on 127.0.0.1 only: one HTML page (no framework, no external
 * asset) that polls the JSON endpoints every two seconds: files with their counts and the
 * accounting check, a file's batches, quarantined and rejected rows, and rows applied per second.
 */
export async function startStatusPage(sql: Sql, port = 0, onError: (error: unknown) => void = () => {}): Promise<StatusPage> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'content-security-policy': "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'" });
      res.end(body);
    };
    if (req.method !== 'GET') return send(405, 'text/plain', 'GET only');
    if (path === '/') return send(200, 'text/html; charset=utf-8', PAGE);
    api(sql, path).then(
      (data) => (data === undefined ? send(404, 'application/json', '{"error":"not found"}') : send(200, 'application/json', JSON.stringify(data))),
      (error: unknown) => {
        onError(error);
        send(500, 'application/json', JSON.stringify({ error: (error as Error).message }));
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new Error(`the status page cannot listen on 127.0.0.1:${port}: the port is in use; pick another with --status-port N`) : error),
    );
    server.listen(port, '127.0.0.1', resolve);
  });
  const { port: actual } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${actual}/`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The page: every value is put in with textContent, never as HTML. */
const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Landfall status</title>
<style>
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}h1{font-size:1.3em}h2{font-size:1.05em;margin-top:1.6em}
table{border-collapse:collapse;margin-top:.4em}td,th{padding:.2em .6em;border-bottom:1px solid #ddd;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}tr.sel{background:#eef}tr[data-file]{cursor:pointer}
.bad{color:#b00;font-weight:600}.ok{color:#070}.muted{color:#777}svg{border:1px solid #ddd;background:#fafafa}
</style></head><body>
<h1>Landfall status <span id="updated" class="muted"></span></h1>
<h2>Rows applied per second (last 5 minutes)</h2><svg id="chart" width="720" height="120" role="img" aria-label="rows applied per second"></svg>
<div id="blocked-tables" hidden><h2>Blocked tables</h2><table id="blocked"><thead><tr><th>table</th><th>reason</th><th>fix</th><th>since</th><th>refusals</th></tr></thead><tbody></tbody></table></div>
<h2>Files</h2><table id="files"><thead><tr><th>file</th><th>table</th><th>status</th><th>batches</th><th>read</th><th>rejected</th><th>collapsed</th><th>inserted</th><th>updated</th><th>unchanged</th><th>stale</th><th>deleted</th><th>quarantined</th><th>adds up</th><th>removed</th></tr></thead><tbody></tbody></table>
<h2>Batches of <span id="batches-of" class="muted">(click a file)</span></h2><table id="batches"><thead><tr><th>batch</th><th>partition</th><th>chunk</th><th>rows</th><th>status</th><th>read</th><th>inserted</th><th>updated</th><th>quarantined</th><th>adds up</th><th>last error</th></tr></thead><tbody></tbody></table>
<h2>Quarantined rows</h2><table id="quarantine"><thead><tr><th>table</th><th>file</th><th>row</th><th>sqlstate</th><th>message</th><th>first seen</th></tr></thead><tbody></tbody></table>
<h2>Rejected rows</h2><table id="rejects"><thead><tr><th>file</th><th>row</th><th>line</th><th>reason</th><th>text</th></tr></thead><tbody></tbody></table>
<script>
const COUNTS = ['read','rejected','collapsed','inserted','updated','unchanged','stale','deleted','quarantined'];
let selected = null;
const get = (path) => fetch(path).then((r) => r.json());
function cell(tr, value, cls) { const td = document.createElement('td'); td.textContent = value === null || value === undefined ? '' : String(value); if (cls) td.className = cls; tr.appendChild(td); return td; }
function fill(id, rows, render) { const body = document.querySelector('#' + id + ' tbody'); body.replaceChildren(...rows.map((r) => { const tr = document.createElement('tr'); render(tr, r); return tr; })); }
function verdict(addsUp, status) { return status === 'moved-aside' ? ['moved aside', 'bad'] : status === 'blocked' ? ['blocked', 'bad'] : addsUp === null ? ['-', 'muted'] : addsUp ? ['yes', 'ok'] : ['NO', 'bad']; }
// A snapshot file's removed rows stand beside the accounting; a held removal shows why and the command that goes ahead.
function removedCell(tr, f) { if (f.status === 'held') { const td = cell(tr, 'held: ' + (f.reason || '') + '; go ahead: ' + (f.fix || ''), 'bad'); td.dataset.held = 'true'; } else cell(tr, f.removed.toLocaleString('en-US'), 'n'); }
function chart(points) {
  const svg = document.getElementById('chart'); const w = 720, h = 120, now = Date.now(), span = 300000;
  const max = Math.max(1, ...points.map((p) => p.rows));
  const bars = points.map((p) => { const x = w - ((now - Date.parse(p.t)) / span) * w; const bh = (p.rows / max) * (h - 20);
    const r = document.createElementNS('http://www.w3.org/2000/svg', 'rect'); r.setAttribute('x', String(Math.max(0, x - 2))); r.setAttribute('y', String(h - bh)); r.setAttribute('width', '3'); r.setAttribute('height', String(bh)); r.setAttribute('fill', '#36c');
    const t = document.createElementNS('http://www.w3.org/2000/svg', 'title'); t.textContent = p.t + ': ' + p.rows + ' rows'; r.appendChild(t); return r; });
  const label = document.createElementNS('http://www.w3.org/2000/svg', 'text'); label.setAttribute('x', '4'); label.setAttribute('y', '14'); label.setAttribute('font-size', '11'); label.textContent = 'max ' + max.toLocaleString('en-US') + ' rows/s';
  svg.replaceChildren(label, ...bars);
}
async function refresh() {
  try {
    const [files, quarantine, rejects, rate, blocked] = await Promise.all([get('/api/files'), get('/api/quarantine'), get('/api/rejects'), get('/api/rate'), get('/api/blocked')]);
    document.getElementById('blocked-tables').hidden = blocked.length === 0;
    fill('blocked', blocked, (tr, b) => { cell(tr, b.table); cell(tr, b.reason, 'bad'); cell(tr, b.fix); cell(tr, b.firstSeen); cell(tr, b.attempts, 'n'); });
    fill('files', files, (tr, f) => { tr.dataset.file = f.fileId; if (f.fileId === selected) tr.className = 'sel'; tr.onclick = () => { selected = f.fileId; document.getElementById('batches-of').textContent = f.file; refresh(); };
      cell(tr, f.file); cell(tr, f.table); cell(tr, f.state || f.status, f.state === 'complete with rejects' || f.state === 'complete, 0 loaded' ? 'bad' : ''); cell(tr, f.batchesApplied + '/' + (f.batches === null ? '?' : f.batches), 'n'); for (const c of COUNTS) cell(tr, f[c].toLocaleString('en-US'), 'n');
      const [text, cls] = verdict(f.addsUp, f.status); cell(tr, f.status === 'moved-aside' || f.status === 'blocked' ? text + ': ' + (f.reason || '') + (f.fix ? '; fix: ' + f.fix : '') : text, cls); removedCell(tr, f); });
    fill('quarantine', quarantine, (tr, q) => { cell(tr, q.table); cell(tr, q.file); cell(tr, q.row, 'n'); cell(tr, q.sqlstate); cell(tr, q.message); cell(tr, q.firstSeen); });
    fill('rejects', rejects, (tr, r) => { cell(tr, r.file); cell(tr, r.row, 'n'); cell(tr, r.line, 'n'); cell(tr, r.reason); cell(tr, r.raw); });
    if (selected) fill('batches', await get('/api/files/' + selected + '/batches'), (tr, b) => { cell(tr, b.batchId.slice(0, 12)); cell(tr, b.partition, 'n'); cell(tr, b.chunk, 'n'); cell(tr, b.firstRow === null ? '-' : b.firstRow + '-' + b.lastRow); cell(tr, b.status);
      for (const c of ['read', 'inserted', 'updated', 'quarantined']) cell(tr, b[c], 'n'); const [text, cls] = verdict(b.addsUp, b.status); cell(tr, text, cls); cell(tr, b.lastError); });
    chart(rate);
    document.getElementById('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
  } catch (error) { document.getElementById('updated').textContent = 'cannot reach landfall dev: ' + error.message; }
}
refresh(); setInterval(refresh, 2000);
</script></body></html>
`;
