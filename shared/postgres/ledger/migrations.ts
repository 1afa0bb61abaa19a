import type { TxSql } from '../db.ts';

/**
 * The ledger's schema, one migration per change, run in order by umzug (see migrate.ts).
 * Never edit a migration that has shipped: add the next one.
 */
export const migrations: { name: string; up: (tx: TxSql) => Promise<unknown> }[] = [
  {
    name: '0001-ledger',
    up: (tx) =>
      tx.unsafe(`
        CREATE TABLE landfall.files (
          file_id      text PRIMARY KEY,
          table_name   text NOT NULL,
          bucket       text NOT NULL,
          key          text NOT NULL,
          version_id   text,
          etag         text NOT NULL,
          event_time   timestamptz NOT NULL,
          batch_count  int NOT NULL CHECK (batch_count >= 0),
          read         bigint NOT NULL CHECK (read >= 0),
          rejected     bigint NOT NULL DEFAULT 0 CHECK (rejected >= 0),
          manifest_key text,
          rejects_key  text,
          registered_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX files_key_idx ON landfall.files (key);

        CREATE TABLE landfall.batches (
          batch_id    text PRIMARY KEY,
          file_id     text NOT NULL,
          table_name  text NOT NULL,
          partition   int NOT NULL,
          chunk       int NOT NULL,
          status      text NOT NULL CHECK (status IN ('applied', 'poisoned')),
          first_row   bigint,
          last_row    bigint,
          read        int NOT NULL DEFAULT 0,
          collapsed   int NOT NULL DEFAULT 0,
          inserted    int NOT NULL DEFAULT 0,
          updated     int NOT NULL DEFAULT 0,
          unchanged   int NOT NULL DEFAULT 0,
          stale       int NOT NULL DEFAULT 0,
          deleted     int NOT NULL DEFAULT 0,
          quarantined int NOT NULL DEFAULT 0,
          applications int NOT NULL DEFAULT 0,
          last_error  text,
          applied_at  timestamptz,
          updated_at  timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX batches_file_idx ON landfall.batches (file_id);

        CREATE TABLE landfall.quarantine (
          id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          batch_id        text NOT NULL,
          file_id         text NOT NULL,
          file_key        text NOT NULL,
          table_name      text NOT NULL,
          row_number      bigint NOT NULL,
          arrival         text,
          row             jsonb NOT NULL,
          sqlstate        text,
          constraint_name text,
          column_name     text,
          message         text NOT NULL,
          first_seen      timestamptz NOT NULL DEFAULT now(),
          last_seen       timestamptz NOT NULL DEFAULT now(),
          attempts        int NOT NULL DEFAULT 1,
          resolved_at     timestamptz,
          UNIQUE (batch_id, row_number)
        );
        CREATE INDEX quarantine_open_idx ON landfall.quarantine (table_name) WHERE resolved_at IS NULL;
      `),
  },
  {
    // One tombstone table per table with a `delete` rule is created at start-up (its key columns
    // copy the target's types); this lists them, so the remembered deletes can be found.
    name: '0002-tombstone-tables',
    up: (tx) =>
      tx.unsafe(`
        CREATE TABLE landfall.tombstone_tables (
          table_name text PRIMARY KEY,
          relation   text NOT NULL UNIQUE,
          created_at timestamptz NOT NULL DEFAULT now()
        );
      `),
  },
  {
    // "schema": "evolve": every column Landfall added to a table, by which file and batch.
    name: '0003-schema-changes',
    up: (tx) =>
      tx.unsafe(`
        CREATE TABLE landfall.schema_changes (
          table_name    text NOT NULL,
          schema_name   text NOT NULL,
          relation_name text NOT NULL,
          column_name   text NOT NULL,
          column_type   text NOT NULL,
          file_id       text NOT NULL,
          batch_id      text NOT NULL,
          added_at      timestamptz NOT NULL DEFAULT now(),
          PRIMARY KEY (table_name, column_name)
        );
      `),
  },
  {
    // Every file's outcome (produced or moved aside, with the reason and where it went) and its rejected rows.
    name: '0004-file-outcomes',
    up: (tx) =>
      tx.unsafe(`
        ALTER TABLE landfall.files
          ADD COLUMN outcome     text NOT NULL DEFAULT 'produced' CHECK (outcome IN ('produced', 'moved-aside')),
          ADD COLUMN reason_code text,
          ADD COLUMN reason      text,
          ADD COLUMN reason_line bigint,
          ADD COLUMN reason_field text,
          ADD COLUMN moved_to    text;

        CREATE TABLE landfall.rejects (
          file_id    text NOT NULL,
          row_number bigint NOT NULL,
          line       bigint NOT NULL,
          reason     text NOT NULL,
          raw        text NOT NULL,
          truncated  boolean NOT NULL DEFAULT false,
          PRIMARY KEY (file_id, row_number)
        );
        CREATE INDEX quarantine_seen_idx ON landfall.quarantine (first_seen, id);
      `),
  },
  {
    // A table the consumer or replay refused (missing, no unique index on the key, a column or a
    // privilege missing): why and the fix, so `status` says "blocked" instead of silent retries.
    // Its files stay registered as produced; a file registered before the latest refusal shows as
    // blocked (derived in fileReceipts).
    name: '0005-blocked-tables',
    up: (tx) =>
      tx.unsafe(`
        CREATE TABLE landfall.blocked_tables (
          table_name text PRIMARY KEY,
          code       text NOT NULL,
          reason     text NOT NULL,
          fix        text,
          first_seen timestamptz NOT NULL DEFAULT now(),
          last_seen  timestamptz NOT NULL DEFAULT now(),
          attempts   int NOT NULL DEFAULT 1
        );
      `),
  },
  {
    // A file is registered from the moment the producer picks it up (its opening manifest, or its
    // first batch sent while it is read): outcome 'producing', batch_count NULL until the final
    // manifest says how many. A later registration corrects an earlier one (a produced manifest
    // wins over a moved-aside one, a moved-aside one over 'producing'); the outcome it replaced
    // and when are kept for audit.
    name: '0006-file-progress',
    up: (tx) =>
      tx.unsafe(`
        ALTER TABLE landfall.files
          ALTER COLUMN batch_count DROP NOT NULL,
          DROP CONSTRAINT files_outcome_check,
          ADD CONSTRAINT files_outcome_check CHECK (outcome IN ('producing', 'produced', 'moved-aside')),
          ADD COLUMN previous_outcome text,
          ADD COLUMN outcome_changed_at timestamptz;
      `),
  },
  {
    // The quarantine's lifecycle: how a row left it (re-applied by retry, resolved or dismissed
    // by someone, with a reason) and every such act kept for audit (who, when, why).
    name: '0007-quarantine-lifecycle',
    up: (tx) =>
      tx.unsafe(`
        ALTER TABLE landfall.quarantine
          ADD COLUMN resolution        text CHECK (resolution IN ('applied', 'resolved', 'dismissed')),
          ADD COLUMN resolution_reason text;
        UPDATE landfall.quarantine SET resolution = 'applied' WHERE resolved_at IS NOT NULL;

        CREATE TABLE landfall.quarantine_events (
          id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          quarantine_id bigint NOT NULL,
          action        text NOT NULL CHECK (action IN ('applied', 'resolved', 'dismissed')),
          reason        text,
          actor         text NOT NULL,
          database_user text NOT NULL DEFAULT current_user,
          at            timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX quarantine_events_row_idx ON landfall.quarantine_events (quarantine_id, at);
      `),
  },
  {
    // The columns a quarantined row's record did not carry (an NDJSON object without the key), so
    // that `quarantine retry` applies it with the same meaning: left alone on update, the column's
    // default on insert (BatchData.absent). NULL: the record carried every column.
    name: '0008-quarantine-absent',
    up: (tx) => tx.unsafe(`ALTER TABLE landfall.quarantine ADD COLUMN absent text[]`),
  },
  {
    // "mode": "snapshot" (issue 23): each snapshot table's typed keys and scopes tables (created at
    // start-up, snapshot-tables.ts), each snapshot file's removal (claimed here in the same
    // transaction as its deletes; `held` with the numbers until confirmed), and per batch the
    // keys it recorded and the rows it had without a trusted key (written in the batch's own
    // transaction).
    name: '0009-snapshots',
    up: (tx) =>
      tx.unsafe(`
        CREATE TABLE landfall.snapshot_tables (
          table_name      text PRIMARY KEY,
          keys_relation   text NOT NULL UNIQUE,
          scopes_relation text NOT NULL UNIQUE,
          created_at      timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE landfall.snapshot_files (
          file_id      text PRIMARY KEY,
          -- The file's number in the keys and scopes tables (8 bytes a row instead of the 32-character id).
          seq          bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
          table_name   text NOT NULL,
          state        text NOT NULL DEFAULT 'waiting' CHECK (state IN ('waiting', 'held', 'done')),
          force        boolean NOT NULL DEFAULT false,
          arrival      text COLLATE "C",
          scopes       int,
          superseded   int,
          stored       bigint,
          removed      bigint NOT NULL DEFAULT 0 CHECK (removed >= 0),
          held_code    text,
          held_reason  text,
          held_numbers jsonb,
          confirmed_by text,
          keys_forgotten boolean NOT NULL DEFAULT false,
          created_at   timestamptz NOT NULL DEFAULT now(),
          decided_at   timestamptz,
          updated_at   timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX snapshot_files_open_idx ON landfall.snapshot_files (table_name) WHERE state <> 'done';

        CREATE TABLE landfall.snapshot_batches (
          batch_id text PRIMARY KEY,
          file_id  text NOT NULL,
          keys     int NOT NULL CHECK (keys >= 0),
          keyless  int NOT NULL CHECK (keyless >= 0),
          -- The keys table the batch recorded into: one that was dropped and made again since has lost them.
          keys_relid oid
        );
        CREATE INDEX snapshot_batches_file_idx ON landfall.snapshot_batches (file_id);
      `),
  },
  {
    // Files `landfall forget` cleared, and when: SQS delivers at least once, so a notice of the
    // file may come again after the forget; one whose manifest was written before it registers
    // nothing (registerFile). A later production of the same file (dropped again) registers.
    name: '0010-forgotten-files',
    up: (tx) =>
      tx.unsafe(`
        CREATE TABLE landfall.forgotten_files (
          file_id      text PRIMARY KEY,
          forgotten_at timestamptz NOT NULL DEFAULT now()
        );
      `),
  },
];
