-- SPDX-License-Identifier: MIT
-- 006_gateway_isolation: one database shared by hundreds of gateways, safe
-- from any one of them (docs/security.md has the threat model).
--
--   * Limits, in the one-row table gw_limits (the operator's to change):
--     the days a batch may be for (from the history horizon to tomorrow in
--     the zone furthest ahead: never BC, never year 9999), the highest
--     revision, the size of a batch, and the session limits of the
--     gateway roles.
--   * Partitions are made ahead (gw_maintain(), at migrate time and by
--     `gwctl db maintain` from a timer), or for a batch's own month in a
--     short transaction of their own before the batch (gw_prepare_batch):
--     never inside a batch's transaction, and with no global advisory
--     lock, so no gateway's open transaction holds up another's upload.
--     Partition names carry the era (interval_readings_bc0044_03).
--   * A meter belongs to the gateway an operator assigned it to
--     (meter_gateways, gw_assign_meter()), for a span of days. Data a
--     gateway sends for a meter not assigned to it is held (held_*
--     tables, meter_claims) and a warning names the meter; once an
--     operator assigns the meter, the held data is released into the
--     history. Nothing is refused for it, so nothing waits behind it.
--   * The zone of a gateway is the operator's: a batch in another zone is
--     refused; batches no longer write gateways.timezone.
--   * The customer portal sees the meters its account holds now, and its
--     own days of the history; a former holder does not see the new one.
--   * gw_operator: the group of the utility's operators (assign meters,
--     set zones, bind gateway roles, make partitions, change accounts).
--
-- Gateways of the previous release keep loading side by side: the loader
-- functions keep their names, arguments and answers. What they see
-- change: a batch outside the limits is refused with a data exception
-- (they set it aside, as any refused batch), a batch whose month has no
-- partition yet waits (object_not_in_prerequisite_state) until the next
-- gwctl db maintain, and data of unassigned meters is held (their log
-- shows the warning at debug level).

-- ---------------------------------------------------------------------
-- The operators' group.
DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gw_operator') THEN
		CREATE ROLE gw_operator NOLOGIN;
	END IF;
	EXECUTE format('GRANT CONNECT ON DATABASE %I TO gw_operator', current_database());
END
$$;
GRANT USAGE ON SCHEMA public TO gw_operator;

-- ---------------------------------------------------------------------
-- Limits. One row; change it with UPDATE gw_limits SET ... (as the owner
-- or an operator).
CREATE TABLE gw_limits (
	id                     boolean PRIMARY KEY DEFAULT true CHECK (id),
	-- The oldest day a batch may be for: today (UTC) minus history_days.
	history_days           int NOT NULL DEFAULT 731 CHECK (history_days BETWEEN 1 AND 36500),
	-- The highest revision of a day, and how far one batch may jump past
	-- the day's highest revision loaded so far.
	max_revision           int NOT NULL DEFAULT 1000 CHECK (max_revision BETWEEN 0 AND 1000000),
	max_revision_step      int NOT NULL DEFAULT 100 CHECK (max_revision_step >= 1),
	-- The size of one batch.
	max_batch_meters       int NOT NULL DEFAULT 20000 CHECK (max_batch_meters >= 1),
	max_batch_daily_rows   bigint NOT NULL DEFAULT 200000 CHECK (max_batch_daily_rows >= 1),
	max_batch_interval_rows bigint NOT NULL DEFAULT 6000000 CHECK (max_batch_interval_rows >= 1),
	max_batch_events       bigint NOT NULL DEFAULT 100000 CHECK (max_batch_events >= 1),
	-- Months of partitions gw_maintain() keeps ready ahead of this one.
	partitions_ahead       int NOT NULL DEFAULT 2 CHECK (partitions_ahead BETWEEN 1 AND 24),
	-- Session limits of the gateway roles (gw_apply_role_limits(), and set
	-- for the rest of a batch's transaction by gw_begin_batch()).
	role_statement_timeout text NOT NULL DEFAULT '5min',
	role_lock_timeout      text NOT NULL DEFAULT '30s',
	role_idle_timeout      text NOT NULL DEFAULT '1min',
	role_work_mem          text NOT NULL DEFAULT '16MB',
	role_temp_file_limit   text NOT NULL DEFAULT '1GB',
	role_connection_limit  int NOT NULL DEFAULT 4 CHECK (role_connection_limit BETWEEN 1 AND 100)
);
INSERT INTO gw_limits DEFAULT VALUES;
COMMENT ON TABLE gw_limits IS
	'limits of what a gateway may load: days, revisions, batch size, session limits (one row)';

-- The days a batch may be for, now: from today (UTC) minus history_days
-- to tomorrow in the zone furthest ahead (UTC+14).
CREATE FUNCTION gw_day_bounds(OUT lo date, OUT hi date)
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
	SELECT (now() AT TIME ZONE 'UTC')::date - l.history_days,
	       (now() AT TIME ZONE 'Etc/GMT-14')::date + 1
	FROM gw_limits l
$$;

-- Refuses a day outside gw_day_bounds() with a message that says why.
CREATE FUNCTION gw_check_day(p_day date, p_what text)
RETURNS void
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
DECLARE
	b record;
BEGIN
	SELECT * INTO b FROM gw_day_bounds();
	IF p_day IS NULL OR NOT isfinite(p_day) OR p_day < b.lo OR p_day > b.hi THEN
		RAISE EXCEPTION '% is for day %, outside the days this database accepts (% to %)',
			p_what, coalesce(p_day::text, 'NULL'), b.lo, b.hi
			USING ERRCODE = 'datetime_field_overflow',
			      HINT = 'the oldest day is gw_limits.history_days before today; no day after tomorrow';
	END IF;
END
$$;

-- ---------------------------------------------------------------------
-- Time zones: the names PostgreSQL knows (pg_timezone_names), nothing
-- else (no POSIX strings such as 'UTC+5', whose sign is the reverse of
-- what most people expect).
CREATE FUNCTION gw_valid_timezone(p_zone text) RETURNS boolean
LANGUAGE sql
STABLE
SET search_path = pg_catalog
AS $$ SELECT p_zone IS NULL OR EXISTS (SELECT FROM pg_timezone_names WHERE name = p_zone) $$;

DO $$
DECLARE
	r record;
BEGIN
	FOR r IN SELECT gateway_id, timezone FROM gateways WHERE NOT gw_valid_timezone(timezone) LOOP
		RAISE WARNING 'gateway %: time zone % is not a zone PostgreSQL knows; cleared (set it with gw_set_gateway_timezone)',
			r.gateway_id, r.timezone;
	END LOOP;
	UPDATE gateways SET timezone = NULL WHERE NOT gw_valid_timezone(timezone);
END
$$;
-- Checked when the zone is written, not on every UPDATE of the row (the
-- loader updates last_seen with every batch; a look-up of
-- pg_timezone_names reads the zone files, tens of milliseconds).
CREATE FUNCTION gw_gateways_zone_check() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
BEGIN
	IF NOT gw_valid_timezone(NEW.timezone) THEN
		RAISE EXCEPTION 'gateway %: % is not a time zone PostgreSQL knows (an IANA name such as Europe/Berlin)',
			NEW.gateway_id, NEW.timezone
			USING ERRCODE = 'check_violation', CONSTRAINT = 'gateways_timezone_check';
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER gateways_timezone_check BEFORE INSERT OR UPDATE OF timezone ON gateways
	FOR EACH ROW WHEN (NEW.timezone IS NOT NULL) EXECUTE FUNCTION gw_gateways_zone_check();

-- ---------------------------------------------------------------------
-- Partitions of interval_readings: era-safe names, made ahead.
--
-- interval_readings_YYYY_MM for the years 1 to 9999 as before (4 digits),
-- more digits after 9999, and interval_readings_bcYYYY_MM before year 1:
-- no two months share a name.
CREATE FUNCTION gw_interval_partition_name(p_ts timestamptz) RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog
AS $$
	SELECT 'interval_readings_' ||
	       CASE WHEN y < 0 THEN 'bc' || lpad((-y)::text, 4, '0') ELSE lpad(y::text, 4, '0') END ||
	       '_' || lpad(m::text, 2, '0')
	FROM (SELECT extract(year FROM p_ts AT TIME ZONE 'UTC')::int AS y,
		     extract(month FROM p_ts AT TIME ZONE 'UTC')::int AS m) x
$$;

-- Makes the partition holding p_ts if it does not exist, in the caller's
-- transaction; returns its name. No advisory lock: the lock that ATTACH
-- takes anyway (SHARE UPDATE EXCLUSIVE on interval_readings) is taken
-- first, which orders two makers of the same month and lets loads and
-- queries go on. Call it only in a short transaction of its own
-- (gw_maintain, gw_prepare_batch), never inside a batch's.
CREATE OR REPLACE FUNCTION gw_ensure_interval_partition(p_ts timestamptz)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
	lo timestamptz := date_trunc('month', p_ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
	hi timestamptz := (date_trunc('month', p_ts AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC';
	name text := gw_interval_partition_name(p_ts);
BEGIN
	IF p_ts IS NULL THEN
		RETURN NULL;
	END IF;
	IF NOT isfinite(p_ts) THEN
		RAISE EXCEPTION 'no partition for an infinite time' USING ERRCODE = 'datetime_field_overflow';
	END IF;
	IF gw_interval_partition_ok(name) THEN
		RETURN name;
	END IF;
	LOCK TABLE public.interval_readings IN SHARE UPDATE EXCLUSIVE MODE;
	IF gw_interval_partition_ok(name) THEN
		RETURN name;
	END IF;
	EXECUTE format('CREATE TABLE public.%I (LIKE public.interval_readings '
		       'INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE)', name);
	PERFORM gw_interval_partition_prepare(format('public.%I', name)::regclass);
	EXECUTE format('ALTER TABLE public.interval_readings ATTACH PARTITION public.%I '
		       'FOR VALUES FROM (%L) TO (%L)', name, lo, hi);
	RETURN name;
END
$$;

-- Whether public.<name> exists and is a partition of interval_readings
-- (a table of that name that is not raises an error).
CREATE FUNCTION gw_interval_partition_ok(p_name text) RETURNS boolean
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, public
AS $$
DECLARE
	r regclass := to_regclass(format('public.%I', p_name));
BEGIN
	IF r IS NULL THEN
		RETURN false;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_inherits i WHERE i.inhrelid = r
		       AND i.inhparent = 'public.interval_readings'::regclass) THEN
		RAISE EXCEPTION 'table % exists but is not a partition of interval_readings', p_name
			USING ERRCODE = 'duplicate_table';
	END IF;
	RETURN true;
END
$$;

-- The partitions a job keeps ready: every month from p_from's (default:
-- last month) to partitions_ahead months after this one. Returns the
-- number of partitions made. For `gwctl db maintain` (a timer), pg_cron
-- or an operator. It takes the lock ATTACH takes, for milliseconds per
-- month: loads go on meanwhile.
CREATE FUNCTION gw_maintain(p_from date DEFAULT NULL)
RETURNS int
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
	v_from date := coalesce(p_from, (date_trunc('month', now() AT TIME ZONE 'UTC') - interval '1 month')::date);
	v_to date;
	v_month timestamptz;
	made int := 0;
BEGIN
	SELECT (date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => l.partitions_ahead))::date
	INTO v_to FROM gw_limits l;
	IF NOT isfinite(v_from) OR v_from < (SELECT b.lo FROM gw_day_bounds() b) - 31 THEN
		RAISE EXCEPTION 'partitions from % reach before the history horizon (%)',
			v_from, (SELECT b.lo FROM gw_day_bounds() b)
			USING ERRCODE = 'datetime_field_overflow';
	END IF;
	v_month := date_trunc('month', v_from)::timestamp AT TIME ZONE 'UTC';
	WHILE v_month <= v_to::timestamp AT TIME ZONE 'UTC' LOOP
		IF NOT gw_interval_partition_ok(gw_interval_partition_name(v_month)) THEN
			PERFORM gw_ensure_interval_partition(v_month);
			made := made + 1;
		END IF;
		v_month := (date_trunc('month', v_month AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC';
	END LOOP;
	RETURN made;
END
$$;

-- The partitions for one batch's readings, made by the uploader in a
-- short transaction of its own before it begins the batch (most days
-- find them made by gw_maintain already, and this only looks). The day
-- must be one the database accepts and the readings within a week of it,
-- so a gateway role can make partitions only for months near now.
-- Returns the number of partitions made.
CREATE FUNCTION gw_prepare_batch(p_day date, p_ts_from timestamptz, p_ts_to timestamptz)
RETURNS int
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
	v_month timestamptz;
	made int := 0;
BEGIN
	PERFORM gw_check_day(p_day, 'the batch');
	IF p_ts_from IS NULL OR p_ts_to IS NULL THEN
		RETURN 0;
	END IF;
	IF p_ts_to < p_ts_from OR p_ts_from < (p_day - 7)::timestamp AT TIME ZONE 'UTC' OR
	   p_ts_to >= (p_day + 8)::timestamp AT TIME ZONE 'UTC' THEN
		RAISE EXCEPTION 'batch of day % has interval readings from % to %, more than a week away from its day',
			p_day, p_ts_from, p_ts_to USING ERRCODE = 'data_exception';
	END IF;
	v_month := date_trunc('month', p_ts_from AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
	WHILE v_month <= p_ts_to LOOP
		IF NOT gw_interval_partition_ok(gw_interval_partition_name(v_month)) THEN
			PERFORM gw_ensure_interval_partition(v_month);
			made := made + 1;
		END IF;
		v_month := (date_trunc('month', v_month AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC';
	END LOOP;
	RETURN made;
END
$$;

-- 002's bulk maker, kept for operators: now through gw_maintain's rules.
CREATE OR REPLACE FUNCTION gw_create_interval_partitions(p_from date, p_months int)
RETURNS int
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
	SELECT count(public.gw_ensure_interval_partition(
		(date_trunc('month', p_from) + make_interval(months => m))::timestamp AT TIME ZONE 'UTC'))::int
	FROM generate_series(0, least(greatest(p_months, 1), 1200) - 1) m
$$;

-- ---------------------------------------------------------------------
-- Meter assignment: which gateway may report a meter, from which local
-- day (a meter moves to another gateway, a gateway is replaced by one
-- with another id). meters.gateway_id is kept equal to the current row by
-- a trigger; maintain this table (gw_assign_meter), not that column.
CREATE TABLE meter_gateways (
	meter_id    text NOT NULL REFERENCES meters,
	valid_from  date NOT NULL DEFAULT '-infinity',
	valid_to    date,                       -- first day no longer (NULL: current)
	gateway_id  text NOT NULL REFERENCES gateways,
	assigned_by name NOT NULL DEFAULT session_user,
	assigned_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (meter_id, valid_from),
	CHECK (valid_to IS NULL OR valid_to > valid_from)
);
CREATE INDEX meter_gateways_gateway_idx ON meter_gateways (gateway_id);
COMMENT ON TABLE meter_gateways IS
	'which gateway may report a meter from which local day (operator''s assignment)';

-- Until now a meter belonged to the gateway that reported it first; that
-- is taken as the operator's assignment from the beginning.
INSERT INTO meter_gateways (meter_id, valid_from, gateway_id, assigned_by)
SELECT meter_id, '-infinity', gateway_id, 'migration 006'
FROM meters WHERE gateway_id IS NOT NULL;

CREATE FUNCTION gw_meter_gateways_sync() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
BEGIN
	UPDATE meters m SET gateway_id = (
		SELECT a.gateway_id FROM meter_gateways a
		WHERE a.meter_id = m.meter_id AND a.valid_to IS NULL
		ORDER BY a.valid_from DESC LIMIT 1)
	WHERE m.meter_id IN (SELECT meter_id FROM changed);
	RETURN NULL;
END
$$;
CREATE TRIGGER meter_gateways_sync_ins AFTER INSERT ON meter_gateways
	REFERENCING NEW TABLE AS changed
	FOR EACH STATEMENT EXECUTE FUNCTION gw_meter_gateways_sync();
CREATE TRIGGER meter_gateways_sync_upd AFTER UPDATE ON meter_gateways
	REFERENCING NEW TABLE AS changed
	FOR EACH STATEMENT EXECUTE FUNCTION gw_meter_gateways_sync();
CREATE TRIGGER meter_gateways_sync_del AFTER DELETE ON meter_gateways
	REFERENCING OLD TABLE AS changed
	FOR EACH STATEMENT EXECUTE FUNCTION gw_meter_gateways_sync();

-- Meters a gateway reported without being assigned them: what an operator
-- looks at (gwctl db claims) before assigning.
CREATE TABLE meter_claims (
	meter_id   text NOT NULL,
	gateway_id text NOT NULL REFERENCES gateways,
	first_day  date NOT NULL,
	last_day   date NOT NULL,
	first_seen timestamptz NOT NULL DEFAULT now(),
	last_seen  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (meter_id, gateway_id)
);
COMMENT ON TABLE meter_claims IS
	'meters a gateway reported without being assigned them; their data waits in the held_* tables';

-- The held data: what a gateway sent for a meter not assigned to it, as
-- the normal tables would have it, until an operator assigns the meter
-- (then it moves into the history) or discards it.
CREATE TABLE held_daily_registers (
	meter_id        text NOT NULL,
	gateway_id      text NOT NULL,
	day             date NOT NULL,
	obis            text NOT NULL,
	unit            text,
	start_value     bigint NOT NULL,
	end_value       bigint NOT NULL,
	consumption     bigint NOT NULL,
	quality         gw_quality NOT NULL,
	readings        int NOT NULL,
	minutes_missing int NOT NULL,
	revision        int NOT NULL,
	held_at         timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (meter_id, gateway_id, day, obis)
);
CREATE TABLE held_interval_readings (
	meter_id   text NOT NULL,
	gateway_id text NOT NULL,
	obis       text NOT NULL,
	ts         timestamptz NOT NULL,
	value      bigint NOT NULL,
	scale      smallint NOT NULL DEFAULT 0,
	unit       text,
	PRIMARY KEY (meter_id, gateway_id, obis, ts)
);
CREATE TABLE held_meter_events (
	meter_id   text NOT NULL,
	gateway_id text NOT NULL,
	ts         timestamptz NOT NULL,
	kind       text NOT NULL,
	obis       text NOT NULL DEFAULT '',
	detail     text,
	PRIMARY KEY (meter_id, gateway_id, ts, kind, obis)
);

-- Whether gateway p_gateway may report meter p_meter for day p_day.
CREATE FUNCTION gw_meter_assigned(p_meter text, p_gateway text, p_day date) RETURNS boolean
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
	SELECT EXISTS (SELECT FROM meter_gateways a
		       WHERE a.meter_id = p_meter AND a.gateway_id = p_gateway
			 AND a.valid_from <= p_day AND (a.valid_to IS NULL OR p_day < a.valid_to))
$$;

-- Moves the data held for (meter, gateway) from day p_from on into the
-- history, as a batch would have loaded it. Returns the rows moved.
CREATE FUNCTION gw_release_held(p_meter text, p_gateway text, p_from date)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
	v_zone text;
	v_from timestamptz;
	v_month timestamptz;
	n bigint := 0;
	k bigint;
BEGIN
	SELECT coalesce(g.timezone, 'UTC') INTO v_zone FROM gateways g WHERE g.gateway_id = p_gateway;
	v_from := CASE WHEN isfinite(p_from) THEN p_from::timestamp AT TIME ZONE v_zone ELSE '-infinity' END;
	FOR v_month IN
		SELECT DISTINCT date_trunc('month', h.ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
		FROM held_interval_readings h
		WHERE h.meter_id = p_meter AND h.gateway_id = p_gateway AND h.ts >= v_from
	LOOP
		PERFORM gw_ensure_interval_partition(v_month);
	END LOOP;
	INSERT INTO meters (meter_id, gateway_id) VALUES (p_meter, p_gateway) ON CONFLICT DO NOTHING;
	UPDATE meters m SET
		first_day = LEAST(m.first_day, x.lo), last_day = GREATEST(m.last_day, x.hi)
	FROM (SELECT min(day) AS lo, max(day) AS hi FROM held_daily_registers h
	      WHERE h.meter_id = p_meter AND h.gateway_id = p_gateway AND h.day >= p_from) x
	WHERE m.meter_id = p_meter AND x.lo IS NOT NULL;

	WITH moved AS (
		DELETE FROM held_daily_registers h
		WHERE h.meter_id = p_meter AND h.gateway_id = p_gateway AND h.day >= p_from
		RETURNING h.*)
	INSERT INTO daily_registers (meter_id, day, obis, unit, start_value, end_value,
				     consumption, quality, readings, minutes_missing,
				     revision, gateway_id)
	SELECT meter_id, day, obis, unit, start_value, end_value, consumption, quality,
	       readings, minutes_missing, revision, gateway_id
	FROM moved
	ON CONFLICT (meter_id, day, obis) DO UPDATE SET
		unit = EXCLUDED.unit, start_value = EXCLUDED.start_value,
		end_value = EXCLUDED.end_value, consumption = EXCLUDED.consumption,
		quality = EXCLUDED.quality, readings = EXCLUDED.readings,
		minutes_missing = EXCLUDED.minutes_missing,
		revision = EXCLUDED.revision, gateway_id = EXCLUDED.gateway_id,
		loaded_at = now()
	WHERE daily_registers.revision < EXCLUDED.revision;
	GET DIAGNOSTICS k = ROW_COUNT;
	n := n + k;

	WITH moved AS (
		DELETE FROM held_interval_readings h
		WHERE h.meter_id = p_meter AND h.gateway_id = p_gateway AND h.ts >= v_from
		RETURNING h.*)
	INSERT INTO interval_readings (meter_id, obis, ts, value, scale, unit)
	SELECT meter_id, obis, ts, value, scale, unit FROM moved
	ON CONFLICT (meter_id, obis, ts) DO NOTHING;
	GET DIAGNOSTICS k = ROW_COUNT;
	n := n + k;

	WITH moved AS (
		DELETE FROM held_meter_events h
		WHERE h.meter_id = p_meter AND h.gateway_id = p_gateway AND h.ts >= v_from
		RETURNING h.*)
	INSERT INTO meter_events (meter_id, ts, kind, obis, detail, gateway_id)
	SELECT meter_id, ts, kind, obis, detail, gateway_id FROM moved
	ON CONFLICT DO NOTHING;
	GET DIAGNOSTICS k = ROW_COUNT;
	n := n + k;

	IF NOT EXISTS (SELECT FROM held_daily_registers h WHERE h.meter_id = p_meter AND h.gateway_id = p_gateway)
	   AND NOT EXISTS (SELECT FROM held_interval_readings h WHERE h.meter_id = p_meter AND h.gateway_id = p_gateway)
	   AND NOT EXISTS (SELECT FROM held_meter_events h WHERE h.meter_id = p_meter AND h.gateway_id = p_gateway) THEN
		DELETE FROM meter_claims c WHERE c.meter_id = p_meter AND c.gateway_id = p_gateway;
	END IF;
	RETURN n;
END
$$;

-- The operator assigns meter p_meter to gateway p_gateway from local day
-- p_from on (default: from the beginning when the meter has no gateway
-- yet, else from today in the gateway's zone). The previous assignment
-- ends the day before; data the gateway sent for the meter from p_from on
-- and that was held moves into the history. Returns the rows released.
CREATE FUNCTION gw_assign_meter(p_meter text, p_gateway text, p_from date DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
	v_from date := p_from;
	v_zone text;
BEGIN
	IF p_meter IS NULL OR length(p_meter) NOT BETWEEN 1 AND 47 THEN
		RAISE EXCEPTION 'a meter id is 1 to 47 characters' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT g.timezone INTO v_zone FROM gateways g WHERE g.gateway_id = p_gateway;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no gateway % (register it first: gwctl db gateway)', p_gateway
			USING ERRCODE = 'foreign_key_violation';
	END IF;
	INSERT INTO meters (meter_id) VALUES (p_meter) ON CONFLICT DO NOTHING;
	PERFORM 1 FROM meters WHERE meter_id = p_meter FOR UPDATE;
	IF v_from IS NULL THEN
		v_from := CASE WHEN EXISTS (SELECT FROM meter_gateways WHERE meter_id = p_meter)
			       THEN (now() AT TIME ZONE coalesce(v_zone, 'UTC'))::date ELSE '-infinity' END;
	END IF;
	-- Assignments from v_from on are replaced; the one running then ends.
	DELETE FROM meter_gateways WHERE meter_id = p_meter AND valid_from >= v_from;
	UPDATE meter_gateways SET valid_to = v_from
	WHERE meter_id = p_meter AND valid_from < v_from AND (valid_to IS NULL OR valid_to > v_from);
	INSERT INTO meter_gateways (meter_id, valid_from, gateway_id) VALUES (p_meter, v_from, p_gateway);
	RETURN gw_release_held(p_meter, p_gateway, v_from);
END
$$;

-- The operator throws away what gateway p_gateway sent for a meter it was
-- not assigned (say a test meter of an installer). Returns the rows.
CREATE FUNCTION gw_discard_held(p_meter text, p_gateway text)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
DECLARE
	n bigint := 0;
	k bigint;
BEGIN
	DELETE FROM held_daily_registers WHERE meter_id = p_meter AND gateway_id = p_gateway;
	GET DIAGNOSTICS k = ROW_COUNT; n := n + k;
	DELETE FROM held_interval_readings WHERE meter_id = p_meter AND gateway_id = p_gateway;
	GET DIAGNOSTICS k = ROW_COUNT; n := n + k;
	DELETE FROM held_meter_events WHERE meter_id = p_meter AND gateway_id = p_gateway;
	GET DIAGNOSTICS k = ROW_COUNT; n := n + k;
	DELETE FROM meter_claims WHERE meter_id = p_meter AND gateway_id = p_gateway;
	RETURN n;
END
$$;

-- ---------------------------------------------------------------------
-- Gateways: zone and role, the operator's. Setting the zone of a gateway
-- the database does not know yet adds it (so that its meters can be
-- assigned before its first batch).
CREATE FUNCTION gw_set_gateway_timezone(p_gateway text, p_timezone text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
BEGIN
	IF p_timezone IS NULL OR NOT gw_valid_timezone(p_timezone) THEN
		RAISE EXCEPTION '% is not a time zone PostgreSQL knows (an IANA name such as Europe/Berlin)',
			coalesce(p_timezone, 'NULL') USING ERRCODE = 'invalid_parameter_value';
	END IF;
	INSERT INTO gateways (gateway_id, timezone) VALUES (p_gateway, p_timezone)
	ON CONFLICT (gateway_id) DO UPDATE SET timezone = EXCLUDED.timezone;
END
$$;

-- 003's registration, with the zone checked. Binding a gateway to another
-- role (a replaced gateway box gets a new role and certificate) takes the
-- old role's right to load it at once.
CREATE OR REPLACE FUNCTION gw_register_gateway(p_gateway text, p_role name, p_timezone text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
BEGIN
	IF NOT pg_has_role(p_role, 'gw_uploader', 'MEMBER') THEN
		RAISE EXCEPTION 'role % is not a member of gw_uploader', p_role
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF p_timezone IS NOT NULL AND NOT gw_valid_timezone(p_timezone) THEN
		RAISE EXCEPTION '% is not a time zone PostgreSQL knows (an IANA name such as Europe/Berlin)',
			p_timezone USING ERRCODE = 'invalid_parameter_value';
	END IF;
	UPDATE gateways SET upload_role = NULL WHERE upload_role = p_role AND gateway_id <> p_gateway;
	INSERT INTO gateways (gateway_id, upload_role, timezone)
	VALUES (p_gateway, p_role, p_timezone)
	ON CONFLICT (gateway_id) DO UPDATE SET upload_role = EXCLUDED.upload_role,
		timezone = coalesce(EXCLUDED.timezone, gateways.timezone);
END
$$;

-- A customer account takes over a meter from local day p_from on (a house
-- changes hands): the previous holder's row ends the day before.
CREATE FUNCTION gw_change_account(p_meter text, p_account text, p_from date)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
BEGIN
	IF p_from IS NULL OR NOT isfinite(p_from) THEN
		RAISE EXCEPTION 'the day the account takes over is needed' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NOT EXISTS (SELECT FROM meters WHERE meter_id = p_meter) THEN
		RAISE EXCEPTION 'no meter %', p_meter USING ERRCODE = 'no_data_found';
	END IF;
	DELETE FROM meter_accounts WHERE meter_id = p_meter AND valid_from >= p_from;
	UPDATE meter_accounts SET valid_to = p_from
	WHERE meter_id = p_meter AND valid_from < p_from AND (valid_to IS NULL OR valid_to > p_from);
	IF p_account IS NOT NULL THEN
		INSERT INTO meter_accounts (meter_id, valid_from, customer_account)
		VALUES (p_meter, p_from, p_account);
	END IF;
END
$$;

-- Session limits of a gateway's login role (run by whoever may ALTER
-- ROLE: a superuser, or a CREATEROLE role for all but temp_file_limit,
-- which only a superuser may set). Returns what could not be set.
CREATE FUNCTION gw_apply_role_limits(p_role name)
RETURNS text
LANGUAGE plpgsql
SECURITY INVOKER
SET search_path = pg_catalog, public
AS $$
DECLARE
	l record;
	s text;
	missed text := '';
BEGIN
	SELECT * INTO l FROM public.gw_limits;
	FOREACH s IN ARRAY ARRAY[
		format('ALTER ROLE %I CONNECTION LIMIT %s', p_role, l.role_connection_limit),
		format('ALTER ROLE %I SET statement_timeout = %L', p_role, l.role_statement_timeout),
		format('ALTER ROLE %I SET lock_timeout = %L', p_role, l.role_lock_timeout),
		format('ALTER ROLE %I SET idle_in_transaction_session_timeout = %L', p_role, l.role_idle_timeout),
		format('ALTER ROLE %I SET work_mem = %L', p_role, l.role_work_mem),
		format('ALTER ROLE %I SET temp_file_limit = %L', p_role, l.role_temp_file_limit)] LOOP
		BEGIN
			EXECUTE s;
		EXCEPTION WHEN insufficient_privilege THEN
			missed := missed || '; ' || s;
		END;
	END LOOP;
	RETURN nullif(substr(missed, 3), '');
END
$$;

DO $$
DECLARE
	r record;
	missed text;
BEGIN
	FOR r IN SELECT m.rolname FROM pg_roles m
		 WHERE m.rolcanlogin AND NOT m.rolsuper
		   AND (pg_has_role(m.oid, 'gw_uploader', 'MEMBER') OR pg_has_role(m.oid, 'gw_loader_any', 'MEMBER'))
	LOOP
		missed := gw_apply_role_limits(r.rolname);
		IF missed IS NOT NULL THEN
			RAISE WARNING 'role %: not set (a superuser runs SELECT gw_apply_role_limits(%L)): %',
				r.rolname, r.rolname, missed;
		END IF;
	END LOOP;
END
$$;

-- ---------------------------------------------------------------------
-- The loader, bounded. Same names, arguments and answers as 004.
CREATE OR REPLACE FUNCTION gw_batch_state_open() RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
	IF to_regclass('pg_temp.gw_batch_state') IS NULL THEN
		CREATE TEMP TABLE gw_batch_state (
			gateway_id text NOT NULL,
			day        date NOT NULL,
			revision   int NOT NULL,
			direct     boolean NOT NULL,  -- readings COPYed into partitions
			ts_lo      timestamptz,       -- first and last reading
			ts_hi      timestamptz,
			expected   bigint NOT NULL,   -- interval rows the header promised
			loaded     bigint NOT NULL DEFAULT 0,
			ended      boolean NOT NULL DEFAULT false
		) ON COMMIT DELETE ROWS;
	END IF;
	IF to_regclass('pg_temp.gw_batch_meters') IS NULL THEN
		CREATE TEMP TABLE gw_batch_meters (
			meter_id text PRIMARY KEY
		) ON COMMIT DELETE ROWS;
	END IF;
	-- The batch's meters whose data is held (not assigned to its gateway).
	IF to_regclass('pg_temp.gw_batch_held') IS NULL THEN
		CREATE TEMP TABLE gw_batch_held (
			meter_id text PRIMARY KEY
		) ON COMMIT DELETE ROWS;
	END IF;
END
$$;

-- Sets a session limit for the rest of the transaction, keeping a
-- stricter one the session has.
CREATE FUNCTION gw_tighten(p_name text, p_limit text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog
AS $$
DECLARE
	cur text := current_setting(p_name);
BEGIN
	IF cur = '0' OR (SELECT s.setting::bigint FROM pg_settings s WHERE s.name = p_name) >
	   (SELECT extract(epoch FROM p_limit::interval) * 1000)::bigint THEN
		PERFORM set_config(p_name, p_limit, true);
	END IF;
END
$$;

CREATE OR REPLACE FUNCTION gw_begin_batch(p_direct boolean DEFAULT true)
RETURNS TABLE (status text, stored_crc bigint, target text, ts_from bigint, ts_to bigint)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
	h record;
	l record;
	g record;
	v_any boolean;
	v_bad text;
	v_direct boolean;
	v_month timestamptz;
	v_next timestamptz;
	v_repl record;
	v_top int;
	v_warned int := 0;
	n bigint;
	n_ev bigint;
	n_m bigint;
	n_d bigint;
BEGIN
	PERFORM gw_batch_state_open();
	IF EXISTS (SELECT FROM pg_temp.gw_batch_state) THEN
		RAISE EXCEPTION 'a batch was begun in this transaction already'
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	SELECT * INTO l FROM gw_limits;
	-- A batch's transaction is bounded in time whatever the session set.
	PERFORM gw_tighten('statement_timeout', l.role_statement_timeout);
	PERFORM gw_tighten('lock_timeout', l.role_lock_timeout);
	PERFORM gw_tighten('idle_in_transaction_session_timeout', l.role_idle_timeout);

	SELECT count(*) FILTER (WHERE k = 'b'), count(*) FILTER (WHERE k = 'm'),
	       count(*) FILTER (WHERE k = 'd'), count(*) FILTER (WHERE k = 'e')
	INTO n, n_m, n_d, n_ev FROM pg_temp.gw_stage;
	IF n <> 1 THEN
		RAISE EXCEPTION 'staged batch has % header rows, expected 1', n
			USING ERRCODE = 'data_exception';
	END IF;
	-- The size of the batch, before anything is done with it.
	IF n_m > l.max_batch_meters OR n_d > l.max_batch_daily_rows OR n_ev > l.max_batch_events THEN
		RAISE EXCEPTION 'batch too large: % meters, % daily and % event rows (the limits are %, % and %)',
			n_m, n_d, n_ev, l.max_batch_meters, l.max_batch_daily_rows, l.max_batch_events
			USING ERRCODE = 'program_limit_exceeded',
			      HINT = 'gw_limits.max_batch_meters, max_batch_events';
	END IF;
	SELECT * INTO h FROM pg_temp.gw_stage WHERE k = 'b';
	IF h.n1 > l.max_batch_daily_rows OR h.n2 > l.max_batch_interval_rows OR h.n3 > l.max_batch_events
	   OR h.n1 < 0 OR h.n2 < 0 OR h.n3 < 0 THEN
		RAISE EXCEPTION 'batch too large: % daily, % interval and % event rows (the limits are %, % and %)',
			h.n1, h.n2, h.n3, l.max_batch_daily_rows, l.max_batch_interval_rows, l.max_batch_events
			USING ERRCODE = 'program_limit_exceeded',
			      HINT = 'gw_limits.max_batch_daily_rows, max_batch_interval_rows, max_batch_events';
	END IF;
	-- The day: near the server's own time, never BC or year 9999.
	PERFORM gw_check_day(h.day, format('batch of gateway %s', h.meter_id));
	IF h.v1 IS NULL OR h.v1 < 0 OR h.v1 > l.max_revision THEN
		RAISE EXCEPTION 'batch of gateway % for day % has revision %, above the highest this database accepts (%)',
			h.meter_id, h.day, h.v1, l.max_revision
			USING ERRCODE = 'numeric_value_out_of_range', HINT = 'gw_limits.max_revision';
	END IF;

	-- Who may load what. session_user is the login role (a definer
	-- function changes current_user only).
	v_any := pg_has_role(session_user, 'gw_loader_any', 'MEMBER');
	SELECT * INTO g FROM gateways WHERE gateway_id = h.meter_id;
	IF NOT v_any THEN
		IF g.upload_role IS DISTINCT FROM session_user THEN
			RAISE EXCEPTION 'role % may not load batches of gateway %', session_user, h.meter_id
				USING ERRCODE = 'insufficient_privilege';
		END IF;
	ELSIF g.gateway_id IS NULL THEN
		-- The operator's own loader brings a gateway the database does
		-- not know yet: its zone is taken from the batch, if valid.
		IF NOT gw_valid_timezone(h.obis) THEN
			RAISE EXCEPTION 'batch of gateway % is in time zone %, which PostgreSQL does not know',
				h.meter_id, h.obis USING ERRCODE = 'invalid_parameter_value';
		END IF;
		INSERT INTO gateways (gateway_id, timezone) VALUES (h.meter_id, h.obis)
		ON CONFLICT (gateway_id) DO NOTHING;
		SELECT * INTO g FROM gateways WHERE gateway_id = h.meter_id;
	END IF;
	-- The zone is the operator's: a batch sealed in another zone has its
	-- days cut elsewhere and is refused.
	IF g.timezone IS NULL THEN
		RAISE EXCEPTION 'gateway % has no time zone in the database; an operator sets it', h.meter_id
			USING ERRCODE = 'object_not_in_prerequisite_state',
			      HINT = 'gwctl db gateway ID --timezone ZONE, or SELECT gw_set_gateway_timezone(...)';
	END IF;
	IF h.obis IS DISTINCT FROM g.timezone THEN
		RAISE EXCEPTION 'batch of gateway % for day % is in time zone %, the gateway''s zone is % (set by an operator)',
			h.meter_id, h.day, coalesce(h.obis, 'NULL'), g.timezone
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'correct [gateway] timezone on the gateway, or the zone in the database';
	END IF;
	UPDATE gateways SET last_seen = now() WHERE gateway_id = h.meter_id;

	-- Revisions grow by steps: one batch cannot leap to a number that no
	-- later revision could pass.
	SELECT max(b.revision) INTO v_top FROM batch_ledger b
	WHERE b.gateway_id = h.meter_id AND b.day = h.day;
	IF h.v1 > coalesce(v_top, -1) + l.max_revision_step THEN
		RAISE EXCEPTION 'batch of gateway % for day % has revision %, more than % above the day''s highest loaded (%)',
			h.meter_id, h.day, h.v1, l.max_revision_step, coalesce(v_top::text, 'none')
			USING ERRCODE = 'numeric_value_out_of_range', HINT = 'gw_limits.max_revision_step';
	END IF;

	-- The ledger row first: a second loader of the same batch waits on
	-- its key here and then finds it taken.
	INSERT INTO batch_ledger (gateway_id, day, revision, crc, timezone, created_at,
				  daily_rows, interval_rows)
	VALUES (h.meter_id, h.day, h.v1, h.v2, h.obis, to_timestamp(h.v3 / 1000.0),
		h.n1, h.n2)
	ON CONFLICT DO NOTHING;
	IF NOT FOUND THEN
		RETURN QUERY SELECT 'duplicate'::text, l2.crc, NULL::text, NULL::bigint, NULL::bigint
			FROM batch_ledger l2
			WHERE l2.gateway_id = h.meter_id AND l2.day = h.day AND l2.revision = h.v1;
		RETURN;
	END IF;

	-- Consistency of what was staged.
	SELECT count(*) FILTER (WHERE k = 'd'), count(*) FILTER (WHERE k = 'e')
	INTO n, n_ev FROM pg_temp.gw_stage;
	IF n <> h.n1 OR n_ev <> h.n3 THEN
		RAISE EXCEPTION 'staged batch has % daily and % event rows, its header says % and %',
			n, n_ev, h.n1, h.n3 USING ERRCODE = 'data_exception';
	END IF;
	SELECT s.meter_id INTO v_bad FROM pg_temp.gw_stage s
	WHERE s.k IN ('d', 'e')
	  AND s.meter_id NOT IN (SELECT m.meter_id FROM pg_temp.gw_stage m WHERE m.k = 'm')
	LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'meter % has rows but is not listed in the staged batch', v_bad
			USING ERRCODE = 'data_exception';
	END IF;
	IF h.n2 > 0 AND (h.ts IS NULL OR h.ts2 IS NULL OR h.ts2 < h.ts) THEN
		RAISE EXCEPTION 'staged batch has % interval rows but no valid time range', h.n2
			USING ERRCODE = 'data_exception';
	END IF;
	IF h.n2 > 0 AND (h.ts < (h.day - 7)::timestamp AT TIME ZONE 'UTC' OR
			 h.ts2 >= (h.day + 8)::timestamp AT TIME ZONE 'UTC') THEN
		RAISE EXCEPTION 'staged batch of day % has interval readings from % to %, more than a week away from its day',
			h.day, h.ts, h.ts2 USING ERRCODE = 'data_exception';
	END IF;
	-- Events belong near their day too (an event whose day was sealed
	-- already goes with the next open day: up to the revision window).
	SELECT min(s.ts)::text || ' to ' || max(s.ts)::text INTO v_bad FROM pg_temp.gw_stage s
	WHERE s.k = 'e' HAVING min(s.ts) < (h.day - 62)::timestamp AT TIME ZONE 'UTC'
			    OR max(s.ts) >= (h.day + 8)::timestamp AT TIME ZONE 'UTC'
			    OR bool_or(s.ts IS NULL);
	IF FOUND THEN
		RAISE EXCEPTION 'staged batch of day % has events from %, too far from its day',
			h.day, coalesce(v_bad, 'NULL') USING ERRCODE = 'data_exception';
	END IF;

	-- The batch's meters: those assigned to its gateway for its day load;
	-- the others are held for an operator. The operator's own loader
	-- (gw_loader_any) assigns a meter no gateway has yet.
	PERFORM gw_batch_state_open();
	IF v_any THEN
		INSERT INTO meters (meter_id)
		SELECT DISTINCT s.meter_id FROM pg_temp.gw_stage s WHERE s.k = 'm'
		  AND NOT EXISTS (SELECT FROM meter_gateways a WHERE a.meter_id = s.meter_id)
		ORDER BY 1
		ON CONFLICT DO NOTHING;
		INSERT INTO meter_gateways (meter_id, valid_from, gateway_id)
		SELECT DISTINCT s.meter_id, '-infinity'::date, h.meter_id FROM pg_temp.gw_stage s
		WHERE s.k = 'm' AND NOT EXISTS (SELECT FROM meter_gateways a WHERE a.meter_id = s.meter_id)
		ORDER BY 1
		ON CONFLICT DO NOTHING;
	END IF;
	INSERT INTO pg_temp.gw_batch_held (meter_id)
	SELECT DISTINCT s.meter_id FROM pg_temp.gw_stage s
	WHERE s.k = 'm' AND NOT EXISTS (
		SELECT FROM meter_gateways a
		WHERE a.meter_id = s.meter_id AND a.gateway_id = h.meter_id
		  AND a.valid_from <= h.day AND (a.valid_to IS NULL OR h.day < a.valid_to));
	INSERT INTO pg_temp.gw_batch_meters (meter_id)
	SELECT DISTINCT s.meter_id FROM pg_temp.gw_stage s
	WHERE s.k = 'm' AND s.meter_id NOT IN (SELECT meter_id FROM pg_temp.gw_batch_held);

	FOR v_bad IN SELECT meter_id FROM pg_temp.gw_batch_held ORDER BY 1 LOOP
		INSERT INTO meter_claims (meter_id, gateway_id, first_day, last_day)
		VALUES (v_bad, h.meter_id, h.day, h.day)
		ON CONFLICT (meter_id, gateway_id) DO UPDATE SET last_seen = now(),
			first_day = LEAST(meter_claims.first_day, EXCLUDED.first_day),
			last_day = GREATEST(meter_claims.last_day, EXCLUDED.last_day);
		v_warned := v_warned + 1;
		IF v_warned <= 20 THEN
			RAISE WARNING 'meter % is not assigned to gateway % for %: its data is held until an operator assigns it',
				v_bad, h.meter_id, h.day
				USING ERRCODE = '01G01', DETAIL = v_bad,
				      HINT = 'gwctl db assign METER GATEWAY [--from DAY]';
		END IF;
	END LOOP;
	IF v_warned > 20 THEN
		RAISE WARNING '% more meters are not assigned to gateway %: their data is held',
			v_warned - 20, h.meter_id USING ERRCODE = '01G01', DETAIL = '';
	END IF;

	-- Meters, sorted so that two batches lock shared meters in the same
	-- order. The gateway of a meter is the operator's (meter_gateways).
	INSERT INTO meters (meter_id, first_day, last_day)
	SELECT m.meter_id, h.day, h.day
	FROM pg_temp.gw_batch_meters m
	ORDER BY 1
	ON CONFLICT (meter_id) DO UPDATE SET last_seen = now(),
		first_day = LEAST(meters.first_day, EXCLUDED.first_day),
		last_day = GREATEST(meters.last_day, EXCLUDED.last_day);

	-- Daily registers: a later revision replaces an earlier one; an older
	-- revision arriving late changes nothing.
	INSERT INTO daily_registers (meter_id, day, obis, unit, start_value, end_value,
				     consumption, quality, readings, minutes_missing,
				     revision, gateway_id)
	SELECT s.meter_id, h.day, s.obis, s.unit, s.v1, s.v2, s.v3, s.quality,
	       s.n1, s.n2, h.v1, h.meter_id
	FROM pg_temp.gw_stage s
	WHERE s.k = 'd' AND s.meter_id IN (SELECT meter_id FROM pg_temp.gw_batch_meters)
	ON CONFLICT (meter_id, day, obis) DO UPDATE SET
		unit = EXCLUDED.unit, start_value = EXCLUDED.start_value,
		end_value = EXCLUDED.end_value, consumption = EXCLUDED.consumption,
		quality = EXCLUDED.quality, readings = EXCLUDED.readings,
		minutes_missing = EXCLUDED.minutes_missing,
		revision = EXCLUDED.revision, gateway_id = EXCLUDED.gateway_id,
		loaded_at = now()
	WHERE daily_registers.revision < EXCLUDED.revision;
	INSERT INTO held_daily_registers (meter_id, gateway_id, day, obis, unit, start_value,
					  end_value, consumption, quality, readings,
					  minutes_missing, revision)
	SELECT s.meter_id, h.meter_id, h.day, s.obis, s.unit, s.v1, s.v2, s.v3, s.quality,
	       s.n1, s.n2, h.v1
	FROM pg_temp.gw_stage s
	WHERE s.k = 'd' AND s.meter_id IN (SELECT meter_id FROM pg_temp.gw_batch_held)
	ON CONFLICT (meter_id, gateway_id, day, obis) DO UPDATE SET
		unit = EXCLUDED.unit, start_value = EXCLUDED.start_value,
		end_value = EXCLUDED.end_value, consumption = EXCLUDED.consumption,
		quality = EXCLUDED.quality, readings = EXCLUDED.readings,
		minutes_missing = EXCLUDED.minutes_missing,
		revision = EXCLUDED.revision, held_at = now()
	WHERE held_daily_registers.revision < EXCLUDED.revision;

	INSERT INTO meter_events (meter_id, ts, kind, obis, detail, gateway_id)
	SELECT s.meter_id, s.ts, s.quality, coalesce(s.obis, ''), nullif(s.detail, ''), h.meter_id
	FROM pg_temp.gw_stage s
	WHERE s.k = 'e' AND s.meter_id IN (SELECT meter_id FROM pg_temp.gw_batch_meters)
	ON CONFLICT DO NOTHING;
	INSERT INTO held_meter_events (meter_id, gateway_id, ts, kind, obis, detail)
	SELECT s.meter_id, h.meter_id, s.ts, s.quality, coalesce(s.obis, ''), nullif(s.detail, '')
	FROM pg_temp.gw_stage s
	WHERE s.k = 'e' AND s.meter_id IN (SELECT meter_id FROM pg_temp.gw_batch_held)
	ON CONFLICT DO NOTHING;

	-- Meters the gateway saw replaced (as 004), for its own meters.
	FOR v_repl IN
		SELECT s.meter_id, (s.ts AT TIME ZONE g.timezone)::date AS day,
		       substring(s.detail FROM '^serial (.+) -> ') AS old_serial,
		       substring(s.detail FROM ' -> (.+)$') AS new_serial
		FROM pg_temp.gw_stage s
		WHERE s.k = 'e' AND s.quality = 'meter_replaced' AND s.detail ~ '^serial .+ -> .+$'
		  AND s.meter_id IN (SELECT meter_id FROM pg_temp.gw_batch_meters)
		ORDER BY s.ts
	LOOP
		IF NOT EXISTS (SELECT FROM meter_serials ms WHERE ms.meter_id = v_repl.meter_id) THEN
			INSERT INTO meter_serials (meter_id, valid_from, valid_to, serial_number, note)
			VALUES (v_repl.meter_id, '-infinity', v_repl.day, v_repl.old_serial,
				'reported by gateway ' || h.meter_id);
		END IF;
		UPDATE meter_serials ms SET valid_to = v_repl.day
		WHERE ms.meter_id = v_repl.meter_id AND ms.valid_to IS NULL
		  AND ms.valid_from < v_repl.day AND ms.serial_number <> v_repl.new_serial;
		INSERT INTO meter_serials (meter_id, valid_from, serial_number, note)
		SELECT v_repl.meter_id, v_repl.day, v_repl.new_serial, 'reported by gateway ' || h.meter_id
		WHERE NOT EXISTS (SELECT FROM meter_serials ms WHERE ms.meter_id = v_repl.meter_id
				  AND ms.valid_from >= v_repl.day)
		ON CONFLICT DO NOTHING;
		UPDATE meters m SET serial_number = ms.serial_number
		FROM meter_serials ms
		WHERE m.meter_id = v_repl.meter_id AND ms.meter_id = m.meter_id AND ms.valid_to IS NULL;
	END LOOP;

	-- What the interval readings that follow are checked against. With
	-- held meters the readings go through the staging table, where
	-- gw_end_batch() parts them.
	v_direct := p_direct AND h.v1 = 0 AND NOT EXISTS (SELECT FROM pg_temp.gw_batch_held);
	INSERT INTO pg_temp.gw_batch_state (gateway_id, day, revision, direct, ts_lo, ts_hi, expected)
	VALUES (h.meter_id, h.day, h.v1, v_direct, h.ts, h.ts2, h.n2);

	IF h.n2 = 0 THEN
		RETURN QUERY SELECT 'applied'::text, NULL::bigint, NULL::text, NULL::bigint, NULL::bigint;
		RETURN;
	END IF;
	-- The partitions of the months of the readings (UTC) must exist:
	-- they are never made inside a batch's transaction.
	v_month := date_trunc('month', h.ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
	WHILE v_month <= h.ts2 LOOP
		v_next := (date_trunc('month', v_month AT TIME ZONE 'UTC') + interval '1 month')
			  AT TIME ZONE 'UTC';
		IF NOT gw_interval_partition_ok(gw_interval_partition_name(v_month)) THEN
			RAISE EXCEPTION 'no partition of interval_readings for the month of % yet', v_month
				USING ERRCODE = 'object_not_in_prerequisite_state',
				      HINT = 'gwctl db maintain makes partitions ahead; the uploader calls gw_prepare_batch() first';
		END IF;
		IF v_direct THEN
			RETURN QUERY SELECT 'applied'::text, NULL::bigint,
				format('public.%I', gw_interval_partition_name(v_month)),
				(extract(epoch FROM v_month) * 1000)::bigint,
				(extract(epoch FROM v_next) * 1000)::bigint;
		END IF;
		v_month := v_next;
	END LOOP;
	IF NOT v_direct THEN
		RETURN QUERY SELECT 'applied'::text, NULL::bigint, 'pg_temp.gw_stage_interval'::text,
			NULL::bigint, NULL::bigint;
	END IF;
END
$$;

-- As 004, and the readings of held meters go to held_interval_readings.
CREATE OR REPLACE FUNCTION gw_end_batch() RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
	st record;
	v_found boolean := false;
	n bigint;
	n_held bigint := 0;
BEGIN
	IF to_regclass('pg_temp.gw_batch_state') IS NOT NULL THEN
		SELECT * INTO st FROM pg_temp.gw_batch_state WHERE NOT ended;
		v_found := FOUND;
	END IF;
	IF NOT v_found THEN
		RAISE EXCEPTION 'no batch was begun in this transaction'
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	n := st.loaded;
	IF NOT st.direct AND st.expected > 0 THEN
		IF st.revision = 0 THEN
			BEGIN
				INSERT INTO interval_readings (meter_id, obis, ts, value, scale, unit)
				SELECT s.meter_id, s.obis, s.ts, s.value, s.scale, s.unit
				FROM pg_temp.gw_stage_interval s
				WHERE s.meter_id IN (SELECT m.meter_id FROM pg_temp.gw_batch_meters m);
				GET DIAGNOSTICS n = ROW_COUNT;
			EXCEPTION WHEN unique_violation THEN
				n := -1;
			END;
		ELSE
			n := -1;
		END IF;
		IF n < 0 THEN
			SELECT count(*) INTO n FROM pg_temp.gw_stage_interval s
			WHERE s.meter_id IN (SELECT m.meter_id FROM pg_temp.gw_batch_meters m);
			INSERT INTO interval_readings (meter_id, obis, ts, value, scale, unit)
			SELECT s.meter_id, s.obis, s.ts, s.value, s.scale, s.unit
			FROM pg_temp.gw_stage_interval s
			WHERE s.meter_id IN (SELECT m.meter_id FROM pg_temp.gw_batch_meters m)
			ON CONFLICT (meter_id, obis, ts) DO NOTHING;
		END IF;
		IF EXISTS (SELECT FROM pg_temp.gw_batch_held) THEN
			SELECT count(*) INTO n_held FROM pg_temp.gw_stage_interval s
			WHERE s.meter_id IN (SELECT m.meter_id FROM pg_temp.gw_batch_held m);
			IF (SELECT min(s.ts) < st.ts_lo OR max(s.ts) > st.ts_hi FROM pg_temp.gw_stage_interval s
			    WHERE s.meter_id IN (SELECT m.meter_id FROM pg_temp.gw_batch_held m)) THEN
				RAISE EXCEPTION 'interval readings of held meters lie outside batch % %',
					st.gateway_id, st.day USING ERRCODE = 'data_exception';
			END IF;
			INSERT INTO held_interval_readings (meter_id, gateway_id, obis, ts, value, scale, unit)
			SELECT s.meter_id, st.gateway_id, s.obis, s.ts, s.value, s.scale, s.unit
			FROM pg_temp.gw_stage_interval s
			WHERE s.meter_id IN (SELECT m.meter_id FROM pg_temp.gw_batch_held m)
			ON CONFLICT DO NOTHING;
		END IF;
	END IF;
	IF n + n_held <> st.expected THEN
		RAISE EXCEPTION 'batch % % r% has % interval rows of its meters, its header says %',
			st.gateway_id, st.day, st.revision, n + n_held, st.expected
			USING ERRCODE = 'data_exception';
	END IF;
	UPDATE pg_temp.gw_batch_state SET ended = true, loaded = n;
END
$$;

-- ---------------------------------------------------------------------
-- The customer portal: the meters its account holds now (a former holder
-- does not see the meter's current account, tariff or serial number);
-- its own days of the history as before.
DROP POLICY portal_read ON meters;
CREATE POLICY portal_read ON meters FOR SELECT TO customer_portal
	USING (meter_id IN (SELECT a.meter_id FROM meter_accounts a
			    WHERE a.customer_account = gw_session_account()
			      AND (a.valid_to IS NULL OR a.valid_to > current_date)));

-- ---------------------------------------------------------------------
-- Owners, row-level security, grants.
ALTER TABLE gw_limits OWNER TO gw_owner;
ALTER TABLE meter_gateways OWNER TO gw_owner;
ALTER TABLE meter_claims OWNER TO gw_owner;
ALTER TABLE held_daily_registers OWNER TO gw_owner;
ALTER TABLE held_interval_readings OWNER TO gw_owner;
ALTER TABLE held_meter_events OWNER TO gw_owner;
DO $$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['gw_limits', 'meter_gateways', 'meter_claims', 'held_daily_registers',
				 'held_interval_readings', 'held_meter_events'] LOOP
		EXECUTE format('REVOKE ALL ON %I FROM PUBLIC', t);
		EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
		EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
		EXECUTE format('CREATE POLICY gw_owner_all ON %I TO gw_owner USING (true) WITH CHECK (true)', t);
		EXECUTE format('CREATE POLICY analyst_read ON %I FOR SELECT TO analyst, gw_operator USING (true)', t);
		EXECUTE format('GRANT SELECT ON %I TO analyst, gw_operator', t);
	END LOOP;
	FOREACH t IN ARRAY ARRAY['gateways', 'meters', 'batch_ledger', 'daily_registers',
				 'interval_readings', 'meter_events', 'meter_serials',
				 'meter_accounts'] LOOP
		EXECUTE format('CREATE POLICY operator_read ON %I FOR SELECT TO gw_operator USING (true)', t);
		EXECUTE format('GRANT SELECT ON %I TO gw_operator', t);
	END LOOP;
END
$$;
CREATE POLICY operator_write ON gw_limits FOR UPDATE TO gw_operator USING (true) WITH CHECK (true);
GRANT UPDATE ON gw_limits TO gw_operator;
GRANT SELECT ON daily_usage, monthly_usage TO gw_operator;

ALTER FUNCTION gw_day_bounds() OWNER TO gw_owner;
ALTER FUNCTION gw_check_day(date, text) OWNER TO gw_owner;
ALTER FUNCTION gw_valid_timezone(text) OWNER TO gw_owner;
ALTER FUNCTION gw_gateways_zone_check() OWNER TO gw_owner;
ALTER FUNCTION gw_interval_partition_name(timestamptz) OWNER TO gw_owner;
ALTER FUNCTION gw_interval_partition_ok(text) OWNER TO gw_owner;
ALTER FUNCTION gw_ensure_interval_partition(timestamptz) OWNER TO gw_owner;
ALTER FUNCTION gw_maintain(date) OWNER TO gw_owner;
ALTER FUNCTION gw_prepare_batch(date, timestamptz, timestamptz) OWNER TO gw_owner;
ALTER FUNCTION gw_create_interval_partitions(date, int) OWNER TO gw_owner;
ALTER FUNCTION gw_meter_gateways_sync() OWNER TO gw_owner;
ALTER FUNCTION gw_meter_assigned(text, text, date) OWNER TO gw_owner;
ALTER FUNCTION gw_release_held(text, text, date) OWNER TO gw_owner;
ALTER FUNCTION gw_assign_meter(text, text, date) OWNER TO gw_owner;
ALTER FUNCTION gw_discard_held(text, text) OWNER TO gw_owner;
ALTER FUNCTION gw_set_gateway_timezone(text, text) OWNER TO gw_owner;
ALTER FUNCTION gw_register_gateway(text, name, text) OWNER TO gw_owner;
ALTER FUNCTION gw_change_account(text, text, date) OWNER TO gw_owner;
ALTER FUNCTION gw_batch_state_open() OWNER TO gw_owner;
ALTER FUNCTION gw_tighten(text, text) OWNER TO gw_owner;
ALTER FUNCTION gw_begin_batch(boolean) OWNER TO gw_owner;
ALTER FUNCTION gw_end_batch() OWNER TO gw_owner;

REVOKE ALL ON FUNCTION gw_day_bounds(), gw_check_day(date, text), gw_valid_timezone(text),
	gw_interval_partition_name(timestamptz), gw_interval_partition_ok(text),
	gw_ensure_interval_partition(timestamptz), gw_maintain(date),
	gw_prepare_batch(date, timestamptz, timestamptz), gw_create_interval_partitions(date, int),
	gw_meter_gateways_sync(), gw_meter_assigned(text, text, date),
	gw_release_held(text, text, date), gw_assign_meter(text, text, date),
	gw_discard_held(text, text), gw_set_gateway_timezone(text, text),
	gw_register_gateway(text, name, text), gw_change_account(text, text, date),
	gw_apply_role_limits(name), gw_tighten(text, text), gw_gateways_zone_check()
	FROM PUBLIC;
GRANT EXECUTE ON FUNCTION gw_prepare_batch(date, timestamptz, timestamptz)
	TO gw_uploader, gw_loader_any;
GRANT EXECUTE ON FUNCTION gw_day_bounds(), gw_valid_timezone(text), gw_maintain(date),
	gw_create_interval_partitions(date, int), gw_assign_meter(text, text, date),
	gw_discard_held(text, text), gw_set_gateway_timezone(text, text),
	gw_register_gateway(text, name, text), gw_change_account(text, text, date),
	gw_apply_role_limits(name)
	TO gw_operator;

-- Partitions ahead, now.
SELECT gw_maintain();
