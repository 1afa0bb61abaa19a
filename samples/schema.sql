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
