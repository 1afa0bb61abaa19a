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
