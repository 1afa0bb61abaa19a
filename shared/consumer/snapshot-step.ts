import { FileStatus, type FileManifest } from '../core/batch-message.ts';
import { isSnapshotFile } from '../core/snapshot-config.ts';
import { noteSnapshotFile, removalDue } from '../postgres/ledger/snapshot-files.ts';
import { removeMissing, type RemovalOutcome } from '../postgres/snapshot-removal.ts';
import type { TargetTable } from '../postgres/target-table.ts';
import type { Sql } from '../postgres/db.ts';

/** What the step needs of the consumer's ports (BatchPorts has it). */
interface SnapshotPorts {
  sql: Sql;
  table(name: string): Promise<TargetTable>;
}

/**
 * The consumer's (and replay's) removal step for snapshot files: after every batch outcome of a
 * snapshot file, and after a file without batches is registered, the file's removal runs when
 * it is due (every batch applied, not done, not held). Whichever batch applies last runs it,
 * whatever order the partitions finish in; a crash before it commits leaves the message
 * unacknowledged, and its redelivery (an already-applied batch) runs it then. Null when there
 * was nothing to do.
 */
export async function settleSnapshot(ports: SnapshotPorts, file: { table: string; fileId: string; key: string; arrival?: string }): Promise<RemovalOutcome | null> {
  const target = await snapshotTable(ports, file.table);
  if (!target || !isSnapshotFile(target.config, file.key)) return null;
  if (!(await removalDue(ports.sql, file.fileId))) return null;
  return removeMissing(ports.sql, target, file.fileId, file.arrival === undefined ? {} : { arrival: file.arrival });
}

/** The prepared table when it is a snapshot table (a table the consumer refuses has nothing to settle). */
async function snapshotTable(ports: SnapshotPorts, table: string): Promise<TargetTable | null> {
  const target = await ports.table(table).catch(() => null);
  return target?.snapshot ? target : null;
}

/**
 * Before a file without batches is registered: a snapshot file (an empty one, or one whose
 * every line was rejected) is noted as waiting for its removal step, so its receipt never says
 * complete before the step held it.
 */
export async function noteSnapshotNotice(ports: SnapshotPorts, manifest: FileManifest): Promise<boolean> {
  if (manifest.status !== FileStatus.produced) return false;
  const target = await snapshotTable(ports, manifest.table);
  if (!target || !isSnapshotFile(target.config, manifest.file.key)) return false;
  await noteSnapshotFile(ports.sql, { fileId: manifest.fileId, table: manifest.table, arrival: manifest.arrival });
  return true;
}
