import { statSync } from 'node:fs';
import cliProgress from 'cli-progress';
import type { FileReceipt } from '../shared/postgres/ledger/files.ts';
import type { CliIo } from './context.ts';

/** How often a plain progress line is written when stderr is not a terminal. */
export const PLAIN_PROGRESS_MS = 5000;

/** What one file has done so far, as a person reads it. */
export interface FileProgress {
  file: string;
  batchesApplied: number;
  batches: number | null;
  rows: number;
  rowsPerSecond: number;
  mbPerSecond: number;
  /** Seconds left at the pace so far; null until a batch is applied. */
  etaSeconds: number | null;
}

/** Rows of a receipt that reached the table's accounting (every count after read). */
const rowsDone = (r: FileReceipt) => r.rejected + r.collapsed + r.inserted + r.updated + r.unchanged + r.stale + r.deleted + r.quarantined;

/**
 * The rates and ETA of one file from its latest receipt, its size and the time since it was
 * dropped; before the file is registered (a large file's batches apply while it is read), what
 * was applied so far.
 */
export function measureProgress(file: string, bytes: number, elapsedMs: number, r: FileReceipt | null, whileReading?: { batches: number; rows: number }): FileProgress {
  const seconds = Math.max(elapsedMs, 1) / 1000;
  const applied = r?.batchesApplied ?? whileReading?.batches ?? 0;
  const total = r ? r.batches : null;
  const done = total ? applied / total : 0;
  const rows = r ? rowsDone(r) : (whileReading?.rows ?? 0);
  return {
    file,
    batchesApplied: applied,
    batches: total,
    rows,
    rowsPerSecond: rows / seconds,
    mbPerSecond: (bytes * done) / 1e6 / seconds,
    etaSeconds: total && applied > 0 ? Math.round((seconds * (total - applied)) / applied) : null,
  };
}

const n = (x: number) => Math.round(x).toLocaleString('en-US');

/** `items.csv 12/40 batches, 120,000 rows, 30,000 rows/s, 4.2 MB/s, ETA 8s`. */
export function formatProgress(p: FileProgress): string {
  const batches = p.batches !== null ? `${n(p.batchesApplied)}/${n(p.batches)} batches` : p.batchesApplied > 0 ? `being read, ${n(p.batchesApplied)} batches applied` : 'waiting for the producer';
  return `${p.file} ${batches}, ${n(p.rows)} rows, ${n(p.rowsPerSecond)} rows/s, ${p.mbPerSecond.toFixed(1)} MB/s, ETA ${p.etaSeconds === null ? '-' : `${p.etaSeconds}s`}`;
}

export interface ProgressTracker {
  /** A new receipt of the file (or null while it is not registered yet, with what was applied while it is read). */
  update(receipt: FileReceipt | null, whileReading?: { batches: number; rows: number }): void;
  /** Takes the file's bar or line away; call before its receipt is printed. */
  done(): void;
}

/**
 * Progress of files on stderr: on a terminal a cli-progress bar per file (batches, rows/s,
 * MB/s, ETA), cleared before a receipt is printed; otherwise a plain line per file every
 * {@link PLAIN_PROGRESS_MS}. Off: trackers that do nothing.
 */
export function progressOn(io: CliIo, enabled: boolean, intervalMs = PLAIN_PROGRESS_MS) {
  const tty = Boolean(io.stderr.isTTY);
  const bars = enabled && tty
    ? new cliProgress.MultiBar(
        {
          stream: io.stderr as NodeJS.WritableStream,
          format: ' {file} [{bar}] {value}/{total} batches | {rows} rows, {rowsPerSecond} rows/s, {mbPerSecond} MB/s | ETA {etaText}',
          hideCursor: true,
          clearOnComplete: true,
          stopOnComplete: false,
        },
        cliProgress.Presets.shades_classic,
      )
    : null;
  return {
    track(file: string, path: string): ProgressTracker {
      if (!enabled) return { update() {}, done() {} };
      const started = Date.now();
      let bytes = 0;
      try {
        bytes = statSync(path).size;
      } catch {
        bytes = 0;
      }
      let latest: FileReceipt | null = null;
      let reading: { batches: number; rows: number } | undefined;
      const now = () => measureProgress(file, bytes, Date.now() - started, latest, reading);
      if (bars) {
        const bar = bars.create(1, 0, { file, rows: '0', rowsPerSecond: '0', mbPerSecond: '0.0', etaText: '-' });
        return {
          update(receipt, whileReading) {
            latest = receipt;
            reading = whileReading;
            const p = now();
            bar.setTotal(Math.max(1, p.batches ?? 1));
            bar.update(p.batchesApplied, { rows: n(p.rows), rowsPerSecond: n(p.rowsPerSecond), mbPerSecond: p.mbPerSecond.toFixed(1), etaText: p.etaSeconds === null ? '-' : `${p.etaSeconds}s` });
          },
          done() {
            bars.remove(bar);
          },
        };
      }
      const timer = setInterval(() => io.stderr.write(`landfall: ${formatProgress(now())}\n`), intervalMs);
      timer.unref();
      return {
        update(receipt, whileReading) {
          latest = receipt;
          reading = whileReading;
        },
        done() {
          clearInterval(timer);
        },
      };
    },
    /** Clears every bar (before receipts are written to a terminal, and at the end). */
    stop() {
      bars?.stop();
    },
  };
}
