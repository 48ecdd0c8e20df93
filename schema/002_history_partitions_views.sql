-- SPDX-License-Identifier: MIT
-- 002_history_partitions_views: interval readings partitioned by month,
-- meter serial and account history, meter events as the gateway sends
-- them, and the views people read (daily_usage with the time-of-use
-- registers, monthly_usage, one customer's daily usage).
--
-- Applied by `gwctl db migrate` in one transaction with its row in
-- schema_migrations; no BEGIN/COMMIT here. Roles, row-level security and
-- the loader functions follow in 003_roles_rls_loader.sql.
--
-- Every large table keeps meter_id first in its primary key, so that the
-- schema can be distributed by meter_id (Citus); see
-- docs/deployment-database.md.

-- ---------------------------------------------------------------------
-- The owner of every object. NOLOGIN and not a superuser: the loader
-- functions run as this role (SECURITY DEFINER), and row-level security
-- is FORCEd on its tables, so it sees rows only through its own policies.
-- Roles are cluster-wide: another database of the same cluster may have
-- made it already.
DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gw_owner') THEN
		CREATE ROLE gw_owner NOLOGIN;
	END IF;
END
$$;
-- It creates the monthly partitions, in this schema.
GRANT USAGE, CREATE ON SCHEMA public TO gw_owner;

-- ---------------------------------------------------------------------
-- Interval readings, partitioned by UTC month of ts. Partitions are named
-- interval_readings_YYYY_MM and are made on demand by
-- gw_ensure_interval_partition() (the loader calls it for the months a
-- batch touches; operations may pre-create months with
-- gw_create_interval_partitions()). There is no default partition: a row
-- for a month without a partition cannot hide in one and block the
-- month's partition later.
--
-- No foreign key to meters: it would cost a lookup per row (measured: 4x
-- the load time of a day of 10,000 meters). The loader is the only writer
-- and inserts every meter of a batch, in the same transaction, before its
-- readings.
ALTER TABLE interval_readings RENAME TO interval_readings_v1;
ALTER INDEX interval_readings_pkey RENAME TO interval_readings_v1_pkey;

CREATE TABLE interval_readings (
	meter_id text NOT NULL,
	obis     text NOT NULL,
	ts       timestamptz NOT NULL,
	value    bigint NOT NULL,
	scale    smallint NOT NULL DEFAULT 0,
	unit     text,
	PRIMARY KEY (meter_id, obis, ts)
) PARTITION BY RANGE (ts);

COMMENT ON TABLE interval_readings IS
	'readings as polled (load curve): value * 10^scale unit; partitioned by UTC month of ts';

-- Makes the partition holding ts if it does not exist. The new partition
-- is created as a plain table and then ATTACHed, which takes only a SHARE
-- UPDATE EXCLUSIVE lock on interval_readings: loads and queries go on
-- meanwhile (CREATE TABLE ... PARTITION OF would wait for every reader
-- and block everyone behind it). An advisory lock serialises two loaders
-- that need the same new month. Returns the partition's name.
CREATE FUNCTION gw_ensure_interval_partition(p_ts timestamptz)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
DECLARE
	lo timestamptz := date_trunc('month', p_ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
	hi timestamptz := (date_trunc('month', p_ts AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC';
	name text := 'interval_readings_' || to_char(p_ts AT TIME ZONE 'UTC', 'YYYY_MM');
BEGIN
	IF p_ts IS NULL THEN
		RETURN NULL;
	END IF;
	IF to_regclass(format('public.%I', name)) IS NOT NULL THEN
		RETURN name;
	END IF;
	PERFORM pg_advisory_xact_lock(727190002);
	IF to_regclass(format('public.%I', name)) IS NOT NULL THEN
		RETURN name;
	END IF;
	EXECUTE format('CREATE TABLE public.%I (LIKE public.interval_readings '
		       'INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE)', name);
	EXECUTE format('ALTER TABLE public.interval_readings ATTACH PARTITION public.%I '
		       'FOR VALUES FROM (%L) TO (%L)', name, lo, hi);
	RETURN name;
END
$$;

-- Pre-creates p_months monthly partitions starting with p_from's month
-- (for a monthly job, so that the first load of a month does not create
-- one). Returns the number of months checked.
CREATE FUNCTION gw_create_interval_partitions(p_from date, p_months int)
RETURNS int
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
	SELECT count(public.gw_ensure_interval_partition(
		(date_trunc('month', p_from) + make_interval(months => m))::timestamp AT TIME ZONE 'UTC'))::int
	FROM generate_series(0, greatest(p_months, 1) - 1) m
$$;

ALTER TABLE interval_readings OWNER TO gw_owner;
ALTER FUNCTION gw_ensure_interval_partition(timestamptz) OWNER TO gw_owner;
ALTER FUNCTION gw_create_interval_partitions(date, int) OWNER TO gw_owner;
REVOKE ALL ON FUNCTION gw_ensure_interval_partition(timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION gw_create_interval_partitions(date, int) FROM PUBLIC;

-- Move what 001's table held, month by month, then drop it.
SELECT gw_ensure_interval_partition(m)
FROM (SELECT DISTINCT date_trunc('month', ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS m
      FROM interval_readings_v1) months;
INSERT INTO interval_readings SELECT meter_id, obis, ts, value, scale, unit FROM interval_readings_v1;
DROP TABLE interval_readings_v1;

-- ---------------------------------------------------------------------
-- Gateways: which database role loads each gateway's batches (003).
ALTER TABLE gateways ADD COLUMN upload_role name UNIQUE;
COMMENT ON COLUMN gateways.upload_role IS
	'the login role that may load this gateway''s batches (member of gw_uploader)';

-- ---------------------------------------------------------------------
-- Meter events as the gateway sends them (struct gw_event): a register
-- may be named (counter reset of 1.8.0 and of 2.8.0 at the same instant
-- are two events), so obis joins the key ('' when not about a register).
ALTER TABLE meter_events ADD COLUMN obis text NOT NULL DEFAULT '';
ALTER TABLE meter_events ADD COLUMN loaded_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE meter_events DROP CONSTRAINT meter_events_pkey;
ALTER TABLE meter_events ADD PRIMARY KEY (meter_id, ts, kind, obis);
ALTER TABLE meter_events ADD CONSTRAINT meter_events_kind_check CHECK (kind IN (
	'offline', 'online', 'counter_reset', 'meter_replaced', 'clock_drift',
	'power_outage', 'counter_wrap', 'jump'));
CREATE INDEX meter_events_gateway_ts_idx ON meter_events (gateway_id, ts);
COMMENT ON TABLE meter_events IS
	'things that happened to a meter: offline, online, counter_reset, meter_replaced, clock_drift, power_outage, counter_wrap, jump';

-- ---------------------------------------------------------------------
-- Serial number history: which physical meter (serial number) stood
-- behind a meter id from which local day. Kept by the back office;
-- meters.serial_number is the current one.
CREATE TABLE meter_serials (
	meter_id      text NOT NULL REFERENCES meters,
	valid_from    date NOT NULL,            -- first local day of this serial
	valid_to      date,                     -- first day no longer (NULL: current)
	serial_number text NOT NULL,
	manufacturer  text,
	model         text,
	note          text,
	PRIMARY KEY (meter_id, valid_from),
	CHECK (valid_to IS NULL OR valid_to > valid_from)
);

-- Account history: which customer account a meter served from which
-- local day (a house changes hands, a shop moves out). Row-level security
-- for the customer portal follows this table, so a new tenant does not
-- see the previous one's usage. meters.customer_account is kept equal to
-- the current row by a trigger; maintain this table, not that column.
CREATE TABLE meter_accounts (
	meter_id         text NOT NULL REFERENCES meters,
	valid_from       date NOT NULL DEFAULT '-infinity',
	valid_to         date,                  -- first day no longer (NULL: current)
	customer_account text NOT NULL,
	PRIMARY KEY (meter_id, valid_from),
	CHECK (valid_to IS NULL OR valid_to > valid_from)
);
CREATE INDEX meter_accounts_account_idx ON meter_accounts (customer_account);

INSERT INTO meter_accounts (meter_id, customer_account)
SELECT meter_id, customer_account FROM meters WHERE customer_account IS NOT NULL;

CREATE FUNCTION gw_meter_accounts_sync() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
BEGIN
	UPDATE meters m SET customer_account = (
		SELECT a.customer_account FROM meter_accounts a
		WHERE a.meter_id = m.meter_id AND a.valid_to IS NULL
		ORDER BY a.valid_from DESC LIMIT 1)
	WHERE m.meter_id IN (SELECT meter_id FROM changed);
	RETURN NULL;
END
$$;
CREATE TRIGGER meter_accounts_sync_ins AFTER INSERT ON meter_accounts
	REFERENCING NEW TABLE AS changed
	FOR EACH STATEMENT EXECUTE FUNCTION gw_meter_accounts_sync();
CREATE TRIGGER meter_accounts_sync_upd AFTER UPDATE ON meter_accounts
	REFERENCING NEW TABLE AS changed
	FOR EACH STATEMENT EXECUTE FUNCTION gw_meter_accounts_sync();
CREATE TRIGGER meter_accounts_sync_del AFTER DELETE ON meter_accounts
	REFERENCING OLD TABLE AS changed
	FOR EACH STATEMENT EXECUTE FUNCTION gw_meter_accounts_sync();

-- ---------------------------------------------------------------------
-- Views. All are security_invoker: a reader sees through them exactly the
-- rows row-level security lets the reader see in the tables (003).
--
-- daily_usage keeps 001's columns in 001's order and adds the
-- time-of-use registers after them:
--   import_t1_kwh .. import_t3_kwh  1.8.1 .. 1.8.3 consumption in kWh,
--                                   NULL when the meter has no such register
CREATE OR REPLACE VIEW daily_usage WITH (security_invoker = true) AS
SELECT d.meter_id,
       d.day,
       (max(d.consumption) FILTER (WHERE d.obis = '1.8.0')::numeric / 1000)::numeric(19, 3) AS import_kwh,
       (max(d.consumption) FILTER (WHERE d.obis = '2.8.0')::numeric / 1000)::numeric(19, 3) AS export_kwh,
       (ARRAY['measured', 'interpolated', 'estimated', 'incomplete'])[
           max(array_position(ARRAY['measured', 'interpolated', 'estimated', 'incomplete'],
                              d.quality::text))]::text AS quality,
       (max(d.consumption) FILTER (WHERE d.obis = '1.8.1')::numeric / 1000)::numeric(19, 3) AS import_t1_kwh,
       (max(d.consumption) FILTER (WHERE d.obis = '1.8.2')::numeric / 1000)::numeric(19, 3) AS import_t2_kwh,
       (max(d.consumption) FILTER (WHERE d.obis = '1.8.3')::numeric / 1000)::numeric(19, 3) AS import_t3_kwh,
       max(d.minutes_missing) AS minutes_missing
FROM daily_registers d
GROUP BY d.meter_id, d.day;

COMMENT ON VIEW daily_usage IS
	'kWh per meter and local day; export_kwh/import_tN_kwh NULL when the register is missing; quality = worst register quality';

-- One row per meter and calendar month of its local days.
--   days               days with at least one register
--   days_not_measured  days whose quality is not 'measured'
--   quality            the worst quality of the month's days
CREATE VIEW monthly_usage WITH (security_invoker = true) AS
SELECT u.meter_id,
       date_trunc('month', u.day)::date AS month,
       count(*)::int AS days,
       sum(u.import_kwh)::numeric(19, 3) AS import_kwh,
       sum(u.export_kwh)::numeric(19, 3) AS export_kwh,
       sum(u.import_t1_kwh)::numeric(19, 3) AS import_t1_kwh,
       sum(u.import_t2_kwh)::numeric(19, 3) AS import_t2_kwh,
       sum(u.import_t3_kwh)::numeric(19, 3) AS import_t3_kwh,
       count(*) FILTER (WHERE u.quality <> 'measured')::int AS days_not_measured,
       (ARRAY['measured', 'interpolated', 'estimated', 'incomplete'])[
           max(array_position(ARRAY['measured', 'interpolated', 'estimated', 'incomplete'],
                              u.quality))]::text AS quality
FROM daily_usage u
GROUP BY u.meter_id, date_trunc('month', u.day);

COMMENT ON VIEW monthly_usage IS 'kWh per meter and month of local days';

-- One account's daily usage, from the account history: only the days on
-- which each meter served the account. With row-level security (003) the
-- customer portal gets rows only for the account of its session, whatever
-- p_account it passes.
CREATE FUNCTION customer_daily_usage(p_account text, p_from date, p_to date)
RETURNS TABLE (meter_id text, day date, import_kwh numeric, export_kwh numeric,
	       import_t1_kwh numeric, import_t2_kwh numeric, import_t3_kwh numeric,
	       quality text)
LANGUAGE sql
STABLE
SECURITY INVOKER
SET search_path = pg_catalog, public
AS $$
	SELECT u.meter_id, u.day, u.import_kwh, u.export_kwh,
	       u.import_t1_kwh, u.import_t2_kwh, u.import_t3_kwh, u.quality
	FROM meter_accounts a
	JOIN daily_usage u ON u.meter_id = a.meter_id
	     AND u.day >= a.valid_from AND (a.valid_to IS NULL OR u.day < a.valid_to)
	WHERE a.customer_account = p_account
	  AND u.day >= p_from AND u.day < p_to
	ORDER BY u.day, u.meter_id
$$;

COMMENT ON FUNCTION customer_daily_usage(text, date, date) IS
	'daily usage of one customer account over [p_from, p_to), following the meter_accounts history';

-- What the portal's session may see: the account it set with
--   SET gw.customer_account = 'C-1042'   (or set_config(..., true) per transaction)
-- NULL when none is set.
CREATE FUNCTION gw_session_account() RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog
AS $$ SELECT nullif(current_setting('gw.customer_account', true), '') $$;

-- The session account's daily usage (the portal's "my usage").
CREATE VIEW my_daily_usage WITH (security_invoker = true) AS
SELECT u.*
FROM customer_daily_usage(gw_session_account(), '-infinity', 'infinity') u;

-- ---------------------------------------------------------------------
-- Owner of everything: gw_owner.
ALTER TABLE gateways OWNER TO gw_owner;
ALTER TABLE meters OWNER TO gw_owner;
ALTER TABLE batch_ledger OWNER TO gw_owner;
ALTER TABLE daily_registers OWNER TO gw_owner;
ALTER TABLE meter_events OWNER TO gw_owner;
ALTER TABLE meter_serials OWNER TO gw_owner;
ALTER TABLE meter_accounts OWNER TO gw_owner;
ALTER VIEW daily_usage OWNER TO gw_owner;
ALTER VIEW monthly_usage OWNER TO gw_owner;
ALTER VIEW my_daily_usage OWNER TO gw_owner;
ALTER FUNCTION gw_meter_accounts_sync() OWNER TO gw_owner;
ALTER FUNCTION customer_daily_usage(text, date, date) OWNER TO gw_owner;
ALTER FUNCTION gw_session_account() OWNER TO gw_owner;
ALTER DOMAIN gw_id OWNER TO gw_owner;
ALTER DOMAIN gw_quality OWNER TO gw_owner;
