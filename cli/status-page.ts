import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Sql } from '../shared/postgres/db.ts';
import { appliedRowsPerSecond, batchReceipts, fileReceipts, ledgerExists, listRejects, type FileReceipt } from '../shared/postgres/ledger/files.ts';
import { listBlockedTables } from '../shared/postgres/ledger/blocked-tables.ts';
import { receiptOf } from '../shared/local/run-files.ts';
import type { QueueDepth } from '../shared/local/stack.ts';
import { listQuarantine } from '../shared/postgres/quarantine-retry.ts';
import { openQuarantineByFile } from '../shared/postgres/quarantine-review.ts';
import { batchAddsUp, fileBalance } from './format.ts';
import { PAGE } from './status-page-html.ts';
import { attentionOf, type PageFile } from './status-attention.ts';

/** Rows the quarantine and rejects lists show at most. */
const LIST_LIMIT = 200;
/** Files a page of the file list shows unless asked for another number (at most {@link MAX_PAGE}). */
const PAGE_SIZE = 50;
const MAX_PAGE = 500;

export interface StatusPageOptions {
  /** 0: any free port. */
  port?: number;
  /** The queues' depths (the local stack's); without it the page shows no queue line. */
  queueDepths?: () => Promise<QueueDepth[]>;
  onError?: (error: unknown) => void;
}

export interface StatusPage {
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * The state the page shows and filters on: the receipt's `status`, refined by its display
 * `state` where that says more (`complete, 0 loaded`, `complete with rejects`, `in progress`).
 */
const pageStateOf = (r: FileReceipt): string => (r.status === 'complete' || r.status === 'pending' ? r.state : r.status);

/** Every file as the page shows it, newest first: the receipt `status --json` prints, with its check. */
async function pageFiles(sql: Sql): Promise<PageFile[]> {
  const receipts = await fileReceipts(sql);
  return receipts.reverse().map((r) => ({ ...receiptOf({ path: r.file, key: r.file }, r), status: pageStateOf(r), addsUp: fileBalance(r).addsUp }) as unknown as PageFile);
}

/** `/api/files?table=&state=&offset=&limit=`: one page of the files, newest first, and what the filters can choose from. */
function filesPage(all: readonly PageFile[], query: URLSearchParams) {
  const table = query.get('table') || null;
  const state = query.get('state') || null;
  const offset = Math.max(0, Number(query.get('offset')) || 0);
  const limit = Math.min(MAX_PAGE, Math.max(1, Number(query.get('limit')) || PAGE_SIZE));
  const chosen = all.filter((f) => (table === null || f.table === table) && (state === null || f.status === state));
  const states = new Map<string, number>();
  for (const f of all) states.set(f.status, (states.get(f.status) ?? 0) + 1);
  return {
    total: chosen.length,
    offset,
    limit,
    files: chosen.slice(offset, offset + limit),
    tables: [...new Set(all.map((f) => f.table))].sort(),
    states: [...states].map(([name, count]) => ({ state: name, count })).sort((a, b) => a.state.localeCompare(b.state)),
  };
}

/** The page's data, as JSON. */
async function api(sql: Sql, url: URL, options: StatusPageOptions): Promise<unknown> {
  const path = url.pathname;
  const queues = async () => (options.queueDepths ? options.queueDepths().catch(() => null) : null);
  if (!(await ledgerExists(sql))) {
    if (path === '/api/summary') return { now: new Date().toISOString(), timeZone: 'UTC', attention: [], queues: await queues(), files: 0 };
    if (path === '/api/files') return filesPage([], url.searchParams);
    return ['/api/rate', '/api/quarantine', '/api/rejects', '/api/blocked'].includes(path) || path.startsWith('/api/files/') ? [] : undefined;
  }
  if (path === '/api/summary') {
    const [files, blocked, quarantine, depths] = await Promise.all([pageFiles(sql), listBlockedTables(sql), openQuarantineByFile(sql), queues()]);
    return { now: new Date().toISOString(), timeZone: 'UTC', attention: attentionOf({ files, blocked, quarantine, queues: depths }), queues: depths, files: files.length };
  }
  if (path === '/api/files') return filesPage(await pageFiles(sql), url.searchParams);
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

/** A port is taken: the message names it and the way out. */
export class StatusPortError extends Error {
  override name = 'StatusPortError';
}

function listen(server: ReturnType<typeof createServer>, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      reject(error);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, '127.0.0.1');
  });
}

/**
 * `landfall dev`'s status page on 127.0.0.1 only: one HTML page (no framework, no external
 * asset) that polls the JSON endpoints every two seconds. The "needs attention" band on top
 * (blocked tables, files in a state that is not quiet, quarantined and rejected rows, the DLQs and
 * parking, each with its fix), then the files newest first (filters, paging, reasons folded), a
 * file's batches, the rows applied per second on a time axis, and the quarantined and rejected
 * rows. Times are UTC, and the page says so.
 */
export async function startStatusPage(sql: Sql, options: StatusPageOptions = {}): Promise<StatusPage> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'content-security-policy': "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'" });
      res.end(body);
    };
    if (req.method !== 'GET') return send(405, 'text/plain', 'GET only');
    if (url.pathname === '/') return send(200, 'text/html; charset=utf-8', PAGE);
    api(sql, url, options).then(
      (data) => (data === undefined ? send(404, 'application/json', '{"error":"not found"}') : send(200, 'application/json', JSON.stringify(data))),
      (error: unknown) => {
        options.onError?.(error);
        send(500, 'application/json', JSON.stringify({ error: (error as Error).message }));
      },
    );
  });
  const port = options.port ?? 0;
  let actual: number;
  try {
    actual = await listen(server, port);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new StatusPortError(`the status page cannot listen on 127.0.0.1:${port}: the port is in use; pick another with --status-port N`, { cause: error });
    throw error;
  }
  return {
    url: `http://127.0.0.1:${actual}/`,
    port: actual,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // A browser tab keeps its connection open: closing the page must not wait for it.
        server.closeAllConnections();
      }),
  };
}

/** The status page's port on first start, and whenever the last one is taken by then: fixed, so a bookmark keeps working. */
export const DEFAULT_STATUS_PORT = 8420;

/**
 * Starts the page on a stable port: `--status-port` when given (taken: an error); else the port
 * the page had last time in this home (`remembered`), else {@link DEFAULT_STATUS_PORT}; when that
 * one is taken, any free port, and `note` says which and why.
 */
export async function startStatusPageOnStablePort(
  sql: Sql,
  options: Omit<StatusPageOptions, 'port'> & { requested?: number; remembered?: number | null },
): Promise<StatusPage & { note: string | null }> {
  if (options.requested !== undefined) return { ...(await startStatusPage(sql, { ...options, port: options.requested })), note: null };
  const preferred = options.remembered ?? DEFAULT_STATUS_PORT;
  try {
    return { ...(await startStatusPage(sql, { ...options, port: preferred })), note: null };
  } catch (error) {
    if (!(error instanceof StatusPortError)) throw error;
  }
  const page = await startStatusPage(sql, { ...options, port: 0 });
  const which = options.remembered ? `the last one, ${preferred},` : `the default, ${preferred},`;
  return { ...page, note: `status page: port ${page.port}, because ${which} is taken by another program (--status-port N fixes one)` };
}
