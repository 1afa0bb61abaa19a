-- The sample table `landfall dev` creates on first start (only when it does not exist).
CREATE TABLE IF NOT EXISTS inventory (
  tenant_id         int NOT NULL,
  sku               text NOT NULL,
  name              text,
  qty               int CHECK (qty >= 0),
  price             numeric(10, 2),
  attrs             jsonb,
  updated_at        timestamptz NOT NULL,
  _landfall_arrival text COLLATE "C",
  PRIMARY KEY (tenant_id, sku)
);

-- The samples of the file shapes a table's "format" reads (samples/landfall.json).
CREATE TABLE IF NOT EXISTS eu_prices (
  artikel           text PRIMARY KEY,
  bezeichnung       text,
  preis             numeric(12, 2),
  gueltig_ab        date,
  _landfall_arrival text COLLATE "C"
);
CREATE TABLE IF NOT EXISTS shipments (
  id                int PRIMARY KEY,
  carrier           text,
  weight_kg         numeric(8, 2),
  shipped_at        timestamptz,
  note              text,
  _landfall_arrival text COLLATE "C"
);
CREATE TABLE IF NOT EXISTS legacy_customers (
  id                int PRIMARY KEY,
  name              text,
  email             text,
  export_path       text,
  _landfall_arrival text COLLATE "C"
);

-- A running counter (samples/visits/): each file's rows add their visits exactly once; the first
-- date a page was seen stays, the last date is the greatest seen, a blank title leaves the stored
-- one (the "merge" rules in samples/landfall.json; docs/rules.md, "Merge rules").
CREATE TABLE IF NOT EXISTS page_visits (
  page              text PRIMARY KEY,
  visits            int NOT NULL DEFAULT 0,
  first_seen        date,
  last_seen         date,
  title             text,
  _landfall_arrival text COLLATE "C"
);

-- A child table whose files are the whole list of a task's photos ("mode": "snapshot", scope
-- task_pk): a photo a later file no longer lists for its task is removed.
CREATE TABLE IF NOT EXISTS task_photos (
  task_pk           int NOT NULL,
  photo_id          int NOT NULL,
  url               text NOT NULL,
  caption           text,
  taken_at          timestamptz,
  _landfall_arrival text COLLATE "C",
  PRIMARY KEY (task_pk, photo_id)
);
