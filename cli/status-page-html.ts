/**
 * The status page (served by status-page.ts): plain HTML, CSS and a script, no framework and
 * no external asset. Every value goes in with textContent, never as HTML. File states are not
 * listed here: a state is a string from the data, shown as a badge (green for `complete`, blue
 * for a file on its way, red for any other), with its reason and fix folded under it, so states
 * added to the ledger show without a change here. Every number a receipt carries is a column, in
 * the order of rule 4, new counts after them. Times are UTC and the page says so.
 */
export const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>Landfall status</title>
<style>
:root{--bad:#b3261e;--bad-bg:#fdecea;--warn:#8a5a00;--warn-bg:#fff4de;--ok:#1b6e33;--ok-bg:#e7f4ea;--info:#1a56a8;--info-bg:#e8f0fb;--line:#e2e2e2;--muted:#6b6b6b}
*{box-sizing:border-box}
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1f1f1f;background:#fafafa}
header{display:flex;align-items:baseline;gap:1em;padding:.8em 1.5em;background:#fff;border-bottom:1px solid var(--line);position:sticky;top:0;z-index:2}
header h1{font-size:1.2em;margin:0}
main{padding:0 1.5em 2em;max-width:100%}
h2{font-size:1em;margin:1.4em 0 .4em}
.muted{color:var(--muted)}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;background:#f1f1f1;padding:.1em .35em;border-radius:3px;word-break:break-word}
#attention{margin-top:1em;border-radius:6px;padding:.7em 1em;border:1px solid}
#attention.calm{background:var(--ok-bg);border-color:#b9dcc2;color:var(--ok)}
#attention.alarm{background:var(--bad-bg);border-color:#f1b8b3}
#attention.warning{background:var(--warn-bg);border-color:#f0d49b}
#attention h2{margin:0 0 .4em}
#attention ul{margin:0;padding:0;list-style:none}
#attention li.item{padding:.45em 0;border-top:1px solid rgba(0,0,0,.08)}
#attention li.item:first-child{border-top:0}
#attention .title{font-weight:600}
#attention li.error .title{color:var(--bad)}
#attention li.warn .title{color:var(--warn)}
#attention .fix{margin-top:.15em}
#attention ul.about{margin:.25em 0 0 1.2em;list-style:disc}
#attention ul.about li{margin:.15em 0}
#queues{display:flex;gap:.6em;flex-wrap:wrap;margin-top:.6em}
#queues span{background:#fff;border:1px solid var(--line);border-radius:4px;padding:.15em .5em;font-size:12px}
#queues span.deep{border-color:var(--bad);color:var(--bad)}
.toolbar{display:flex;gap:.8em;align-items:center;flex-wrap:wrap;margin:.3em 0}
.wrap{overflow-x:auto;background:#fff;border:1px solid var(--line);border-radius:6px}
table{border-collapse:collapse;width:100%}
td,th{padding:.3em .6em;border-bottom:1px solid var(--line);text-align:left;vertical-align:top;white-space:nowrap}
th{background:#f4f4f4;font-weight:600;font-size:12px;position:sticky;top:0}
td.n{text-align:right;font-variant-numeric:tabular-nums}
td.name{max-width:28em;overflow:hidden;text-overflow:ellipsis}
td.text{white-space:normal;min-width:18em;max-width:40em}
tr.sel{background:#eef3ff}tr[data-file]{cursor:pointer}tr[data-file]:hover{background:#f6f8fc}
.badge{display:inline-block;padding:0 .5em;border-radius:9px;font-size:12px;font-weight:600}
.badge.ok{background:var(--ok-bg);color:var(--ok)}.badge.info{background:var(--info-bg);color:var(--info)}.badge.bad{background:var(--bad-bg);color:var(--bad)}
details.why{display:inline-block;vertical-align:top}
details.why summary{cursor:pointer;list-style:none}
details.why summary::-webkit-details-marker{display:none}
details.why summary::after{content:" ▸";color:var(--muted);font-size:11px}
details.why[open] summary::after{content:" ▾"}
details.why .body{white-space:normal;max-width:40em;margin-top:.3em;font-size:12px}
td details.why.row .body{display:none}
tr.why-row td{white-space:normal;background:#fffaf9;border-left:3px solid var(--bad);padding:.5em .8em}
tr.why-row .reason{margin-bottom:.3em;max-width:80em}
.yes{color:var(--ok)}.no{color:var(--bad);font-weight:600}
#chart{display:block;background:#fff;border:1px solid var(--line);border-radius:6px}
#chart .axis{stroke:#999;stroke-width:1}#chart .grid{stroke:#eee}#chart text{font:11px system-ui,sans-serif;fill:#555}
button{font:inherit;padding:.15em .7em}
</style></head><body>
<header><h1>Landfall status</h1><span id="updated" class="muted">loading…</span><span class="muted" id="tz">all times UTC</span></header>
<main>
<section id="attention" class="calm" aria-live="polite"><h2 id="attention-title">Checking what needs attention…</h2><ul id="attention-items"></ul><div id="queues"></div></section>
<h2>Files <span class="muted" id="files-count"></span></h2>
<div class="toolbar">
  <label>table <select id="filter-table"><option value="">all</option></select></label>
  <label>state <select id="filter-state"><option value="">all</option></select></label>
  <button id="prev" type="button">‹ newer</button><span id="page-info" class="muted"></span><button id="next" type="button">older ›</button>
</div>
<div class="wrap"><table id="files"><thead><tr id="files-head"></tr></thead><tbody></tbody></table></div>
<h2>Batches of <span id="batches-of" class="muted">(click a file)</span></h2>
<div class="wrap"><table id="batches"><thead><tr><th>batch</th><th>partition</th><th>chunk</th><th>rows</th><th>state</th><th>read</th><th>inserted</th><th>updated</th><th>quarantined</th><th>adds up</th><th>last error</th></tr></thead><tbody></tbody></table></div>
<h2>Rows applied per second, last 5 minutes (UTC)</h2><svg id="chart" width="760" height="150" role="img" aria-label="rows applied per second, last five minutes"></svg>
<h2>Quarantined rows (open)</h2>
<div class="wrap"><table id="quarantine"><thead><tr><th>id</th><th>first seen</th><th>table</th><th>file</th><th>row</th><th>sqlstate</th><th>reason</th></tr></thead><tbody></tbody></table></div>
<h2>Rejected rows</h2>
<div class="wrap"><table id="rejects"><thead><tr><th>file</th><th>row</th><th>line</th><th>reason</th><th>text</th></tr></thead><tbody></tbody></table></div>
</main>
<script>
const COUNTS = ['read','rejected','collapsed','inserted','updated','unchanged','stale','deleted','quarantined'];
const NOT_COUNTS = new Set(['batches','batchesApplied']);
const QUIET = new Set(['pending','replaying','in-progress','in progress','loading']);
const state = { selected: null, table: '', state: '', offset: 0, limit: 50, total: 0 };
const get = (path) => fetch(path).then((r) => { if (!r.ok) throw new Error(r.status + ' ' + r.statusText); return r.json(); });
const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined && text !== null) e.textContent = String(text); return e; };
const utc = (iso) => iso ? iso.replace('T', ' ').replace(/\\.\\d+Z$|Z$/, '') : '';
const num = (v) => typeof v === 'number' ? v.toLocaleString('en-US') : (v === null || v === undefined ? '' : String(v));
function cell(tr, value, cls) { const td = el('td', cls, value); tr.appendChild(td); return td; }
function fill(id, rows, render) { const body = document.querySelector('#' + id + ' tbody'); body.replaceChildren(...rows.map((r) => { const tr = document.createElement('tr'); render(tr, r); return tr; })); }
/** What the reader opened stays open when the page refreshes (every element is rebuilt every 2 s). */
const opened = new Set();
function remember(details, key, onChange) {
  if (!key) return details;
  details.open = opened.has(key);
  details.addEventListener('toggle', () => {
    if (details.open === opened.has(key)) return;
    if (details.open) opened.add(key); else opened.delete(key);
    if (onChange) onChange();
  });
  return details;
}
function badgeClass(status) { return status === 'complete' || status === 'applied' ? 'ok' : QUIET.has(status) ? 'info' : 'bad'; }
/** A state badge; with a reason or a fix, a folded <details> that opens on click. */
function whyBody(reason, fix) {
  const body = el('div', 'body'); if (reason) body.appendChild(el('div', 'reason', reason));
  if (fix) { const f = el('div', 'fix'); f.appendChild(el('span', 'muted', 'fix: ')); f.appendChild(el('code', null, fix)); body.appendChild(f); }
  return body;
}
/**
 * A state badge; with a reason or a fix, a folded <details>: opened, the reason and the fix fold
 * out as a row of their own under the file (rows keep one line's height until then).
 */
function stateCell(tr, status, reason, fix, key) {
  const td = el('td'); const badge = el('span', 'badge ' + badgeClass(status), String(status).replaceAll('-', ' '));
  if (reason || fix) {
    const d = el('details', 'why' + (key ? ' row' : '')); const s = el('summary'); s.appendChild(badge); d.appendChild(s);
    d.appendChild(whyBody(reason, fix)); d.addEventListener('click', (e) => e.stopPropagation());
    td.appendChild(remember(d, key, () => lastPage && files(lastPage)));
  } else td.appendChild(badge);
  tr.appendChild(td); return td;
}
/** A long text folded to its first line. */
function textCell(tr, text, key) {
  const td = el('td', 'text'); const value = text || '';
  if (value.length <= 90) td.textContent = value;
  else { const d = el('details', 'why'); d.appendChild(el('summary', null, value.slice(0, 80) + '…')); d.appendChild(el('div', 'body', value)); d.addEventListener('click', (e) => e.stopPropagation()); td.appendChild(remember(d, key)); }
  tr.appendChild(td); return td;
}
function attention(summary) {
  const box = document.getElementById('attention'); const items = summary.attention;
  const errors = items.filter((i) => i.severity === 'error').length;
  box.className = items.length === 0 ? 'calm' : errors ? 'alarm' : 'warning';
  document.getElementById('attention-title').textContent = items.length === 0 ? 'Nothing needs attention: ' + summary.files.toLocaleString('en-US') + ' files, every one complete or on its way' : 'Needs attention (' + items.length + ')';
  document.getElementById('attention-items').replaceChildren(...items.map((i) => {
    const li = el('li', 'item ' + i.severity); li.dataset.kind = i.kind;
    li.appendChild(el('div', 'title', i.title));
    const fix = el('div', 'fix'); fix.appendChild(el('span', 'muted', 'fix: ')); fix.appendChild(el('code', null, i.fix)); li.appendChild(fix);
    const about = el('ul', 'about');
    for (const a of i.items) {
      const row = el('li'); row.appendChild(el('strong', null, a.name)); if (a.detail) row.appendChild(el('span', 'muted', ' (' + a.detail + ') '));
      if (a.reason || a.fix) { const d = el('details', 'why'); d.appendChild(el('summary', 'muted', 'why')); const body = el('div', 'body');
        if (a.reason) body.appendChild(el('div', 'reason', a.reason));
        if (a.fix) { const f = el('div'); f.appendChild(el('span', 'muted', 'fix: ')); f.appendChild(el('code', null, a.fix)); body.appendChild(f); }
        d.appendChild(body); row.appendChild(remember(d, 'attention:' + i.kind + ':' + a.name)); }
      about.appendChild(row);
    }
    if (i.count > i.items.length) about.appendChild(el('li', 'muted', 'and ' + (i.count - i.items.length) + ' more'));
    li.appendChild(about); return li;
  }));
  const queues = document.getElementById('queues');
  queues.replaceChildren(...(summary.queues || []).map((q) => { const deep = (q.queue === 'parking' || q.queue.endsWith('Dlq')) && q.visible + q.inFlight > 0;
    const s = el('span', deep ? 'deep' : null, q.name + ': ' + q.visible + ' waiting, ' + q.inFlight + ' in flight'); s.dataset.queue = q.queue; return s; }));
}
function options(select, values, current) {
  const keep = select.firstElementChild; select.replaceChildren(keep, ...values.map((v) => { const o = el('option', null, v.label); o.value = v.value; return o; })); select.value = current;
}
let lastPage = null;
function files(page) {
  lastPage = page; state.total = page.total;
  options(document.getElementById('filter-table'), page.tables.map((t) => ({ value: t, label: t || '(none)' })), state.table);
  options(document.getElementById('filter-state'), page.states.map((s) => ({ value: s.state, label: s.state.replaceAll('-', ' ') + ' (' + s.count + ')' })), state.state);
  const extra = [...new Set(page.files.flatMap((f) => Object.keys(f).filter((k) => typeof f[k] === 'number' && !COUNTS.includes(k) && !NOT_COUNTS.has(k))))];
  const counts = [...COUNTS, ...extra];
  document.getElementById('files-head').replaceChildren(...['registered', 'file', 'table', 'state', 'batches', ...counts, 'adds up'].map((h) => el('th', null, h)));
  const columns = 6 + counts.length;
  const rows = [];
  for (const f of page.files) {
    const tr = document.createElement('tr'); rows.push(tr);
    const key = 'file:' + f.fileId;
    if (opened.has(key)) { const why = el('tr', 'why-row'); why.dataset.why = f.fileId; const td = el('td'); td.colSpan = columns; td.appendChild(whyBody(f.reason, f.fix)); why.appendChild(td); rows.push(why); }
    tr.dataset.file = f.fileId; if (f.fileId === state.selected) tr.className = 'sel';
    tr.onclick = () => { state.selected = f.fileId; document.getElementById('batches-of').textContent = f.file; refresh(); };
    cell(tr, utc(f.registeredAt)); const name = cell(tr, f.file, 'name'); name.title = f.file; cell(tr, f.table);
    stateCell(tr, f.status, f.reason, f.fix, key); cell(tr, f.batches === undefined ? '' : f.batchesApplied + '/' + f.batches, 'n');
    for (const c of counts) cell(tr, num(f[c]), 'n');
    cell(tr, f.addsUp === null || f.addsUp === undefined ? '–' : f.addsUp ? 'yes' : 'NO', f.addsUp === false ? 'no' : f.addsUp ? 'yes' : 'muted');
  }
  document.querySelector('#files tbody').replaceChildren(...rows);
  const last = Math.min(page.total, page.offset + page.files.length);
  document.getElementById('files-count').textContent = '(' + page.total.toLocaleString('en-US') + ', newest first)';
  document.getElementById('page-info').textContent = page.total ? (page.offset + 1) + '–' + last + ' of ' + page.total.toLocaleString('en-US') : 'no files';
  document.getElementById('prev').disabled = page.offset === 0; document.getElementById('next').disabled = last >= page.total;
}
function chart(points, nowIso) {
  const svg = document.getElementById('chart'); const ns = 'http://www.w3.org/2000/svg';
  const W = 760, H = 150, L = 56, R = 12, T = 10, B = 24, span = 300000, now = Date.parse(nowIso);
  const max = Math.max(1, ...points.map((p) => p.rows)); const x = (t) => L + (W - L - R) * (1 - (now - t) / span); const y = (v) => H - B - (H - B - T) * v / max;
  const node = (tag, attrs, text) => { const n = document.createElementNS(ns, tag); for (const k in attrs) n.setAttribute(k, String(attrs[k])); if (text !== undefined) n.textContent = text; return n; };
  const parts = [node('line', { x1: L, y1: H - B, x2: W - R, y2: H - B, class: 'axis' }), node('line', { x1: L, y1: T, x2: L, y2: H - B, class: 'axis' })];
  for (const v of [max / 2, max]) { parts.push(node('line', { x1: L, y1: y(v), x2: W - R, y2: y(v), class: 'grid' })); parts.push(node('text', { x: L - 4, y: y(v) + 4, 'text-anchor': 'end' }, Math.round(v).toLocaleString('en-US'))); }
  parts.push(node('text', { x: L - 4, y: H - B + 4, 'text-anchor': 'end' }, '0'));
  const first = Math.ceil((now - span) / 60000) * 60000;
  for (let t = first; t <= now; t += 60000) { parts.push(node('line', { x1: x(t), y1: H - B, x2: x(t), y2: H - B + 4, class: 'axis' })); parts.push(node('text', { x: x(t), y: H - 6, 'text-anchor': 'middle', class: 'tick' }, new Date(t).toISOString().slice(11, 16))); }
  parts.push(node('text', { x: W - R, y: H - 6, 'text-anchor': 'end' }, 'UTC'));
  const bw = Math.max(2, (W - L - R) / 300 - 1);
  for (const p of points) { const t = Date.parse(p.t); if (now - t > span) continue; const bar = node('rect', { x: x(t) - bw, y: y(p.rows), width: bw, height: H - B - y(p.rows), fill: '#3a6fd8' }); bar.appendChild(node('title', {}, utc(p.t) + ' UTC: ' + p.rows.toLocaleString('en-US') + ' rows')); parts.push(bar); }
  svg.replaceChildren(...parts);
}
let busy = false, again = false;
async function refresh() {
  if (busy) { again = true; return; } busy = true;
  try {
    const q = new URLSearchParams({ table: state.table, state: state.state, offset: String(state.offset), limit: String(state.limit) });
    const [summary, page, quarantine, rejects, rate] = await Promise.all([get('/api/summary'), get('/api/files?' + q), get('/api/quarantine'), get('/api/rejects'), get('/api/rate')]);
    attention(summary); files(page);
    fill('quarantine', quarantine, (tr, r) => { cell(tr, r.id, 'n'); cell(tr, utc(r.firstSeen)); cell(tr, r.table); const n = cell(tr, r.file, 'name'); n.title = r.file; cell(tr, r.row, 'n'); cell(tr, r.sqlstate); textCell(tr, r.message, 'quarantine:' + r.id); });
    fill('rejects', rejects, (tr, r) => { const n = cell(tr, r.file, 'name'); n.title = r.file; cell(tr, r.row, 'n'); cell(tr, r.line, 'n'); textCell(tr, r.reason, 'reject-reason:' + r.fileId + ':' + r.row); textCell(tr, r.raw, 'reject-raw:' + r.fileId + ':' + r.row); });
    if (state.selected) fill('batches', await get('/api/files/' + state.selected + '/batches'), (tr, b) => { cell(tr, b.batchId.slice(0, 12)); cell(tr, b.partition, 'n'); cell(tr, b.chunk, 'n'); cell(tr, b.firstRow === null ? '–' : b.firstRow + '–' + b.lastRow);
      stateCell(tr, b.status, null, null); for (const c of ['read', 'inserted', 'updated', 'quarantined']) cell(tr, num(b[c]), 'n'); cell(tr, b.addsUp === null ? '–' : b.addsUp ? 'yes' : 'NO', b.addsUp === false ? 'no' : b.addsUp ? 'yes' : 'muted'); textCell(tr, b.lastError, 'batch:' + b.batchId); });
    chart(rate, summary.now);
    document.getElementById('updated').textContent = 'updated ' + utc(summary.now) + ' UTC';
    document.body.dataset.loaded = 'true';
  } catch (error) { document.getElementById('updated').textContent = 'cannot reach landfall dev: ' + error.message; }
  finally { busy = false; if (again) { again = false; refresh(); } }
}
document.getElementById('filter-table').onchange = (e) => { state.table = e.target.value; state.offset = 0; refresh(); };
document.getElementById('filter-state').onchange = (e) => { state.state = e.target.value; state.offset = 0; refresh(); };
document.getElementById('prev').onclick = () => { state.offset = Math.max(0, state.offset - state.limit); refresh(); };
document.getElementById('next').onclick = () => { if (state.offset + state.limit < state.total) { state.offset += state.limit; refresh(); } };
const limit = Number(new URLSearchParams(location.search).get('limit')); if (limit > 0) state.limit = limit;
refresh(); setInterval(refresh, 2000);
</script></body></html>
`;
