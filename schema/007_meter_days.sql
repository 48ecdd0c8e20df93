-- SPDX-License-Identifier: MIT
-- 007_meter_days: one row per meter and local day, kept as a table, so that
-- a customer's year and a month of all meters are index ranges.
--
-- Until 006 daily_usage grouped daily_registers by (meter, day) on every
-- read. A join (customer_daily_usage: meter_accounts to daily_usage)
-- cannot reach into that GROUP BY, so one customer's year of a database
-- of 10,000 meters x 365 days sorted all 11 million register rows (11.4 s),
-- and monthly_usage WHERE month = ... grouped them all twice (4.6 s).
--
-- Now:
--   * meter_days holds what daily_usage showed, one row per meter and
--     day, in Wh, with the day's quality already resolved. Nobody writes
--     it but a trigger on daily_registers, in the same statement's
--     transaction: a batch and its day rows commit together (exactly once
--     stays exactly once), a later revision of a day rewrites the day's
--     rows, gw_release_held() and an owner's repair keep it current too.
--     Keys: (meter_id, day); indexes on (day) and (month, meter_id).
--   * daily_usage, monthly_usage and my_daily_usage keep their names,
--     columns and meaning; they read meter_days. customer_daily_usage()
--     keeps its signature and can now be inlined into the caller's query.
--   * Row-level security on meter_days as on daily_registers: the portal
--     sees the days its account held the meter, nothing else; it cannot
--     write.
--
-- Migrating an existing database back-fills meter_days from
-- daily_registers. Writers of daily_registers (uploads) wait until the
-- migration commits; readers go on.

LOCK TABLE daily_registers IN SHARE ROW EXCLUSIVE MODE;

-- ---------------------------------------------------------------------
CREATE TABLE meter_days (
	meter_id        text NOT NULL,
	day             date NOT NULL,
	-- the first day of the day's calendar month (monthly_usage's key)
	month           date NOT NULL
	                GENERATED ALWAYS AS (date_trunc('month', day::timestamp)::date) STORED,
	import_wh       bigint,        -- 1.8.0 consumption; NULL: no such register
	export_wh       bigint,        -- 2.8.0
	import_t1_wh    bigint,        -- 1.8.1
	import_t2_wh    bigint,        -- 1.8.2
	import_t3_wh    bigint,        -- 1.8.3
	quality         gw_quality NOT NULL,  -- the worst of all the day's registers
	minutes_missing int NOT NULL,         -- the largest of the day's registers
	registers       smallint NOT NULL,    -- daily_registers rows of the day
	revision        int NOT NULL,         -- the highest revision among them
	PRIMARY KEY (meter_id, day)
);
COMMENT ON TABLE meter_days IS
	'one row per meter and local day, from daily_registers (kept by a trigger): Wh per register, worst quality; daily_usage shows it in kWh';

-- The back-fill: what 006's daily_usage computed, now once.
INSERT INTO meter_days (meter_id, day, import_wh, export_wh, import_t1_wh, import_t2_wh,
			import_t3_wh, quality, minutes_missing, registers, revision)
SELECT d.meter_id, d.day,
       max(d.consumption) FILTER (WHERE d.obis = '1.8.0'),
       max(d.consumption) FILTER (WHERE d.obis = '2.8.0'),
       max(d.consumption) FILTER (WHERE d.obis = '1.8.1'),
       max(d.consumption) FILTER (WHERE d.obis = '1.8.2'),
       max(d.consumption) FILTER (WHERE d.obis = '1.8.3'),
       (ARRAY['measured', 'interpolated', 'estimated', 'incomplete'])[
           max(array_position(ARRAY['measured', 'interpolated', 'estimated', 'incomplete'],
                              d.quality::text))],
       max(d.minutes_missing), count(*), max(d.revision)
FROM daily_registers d
GROUP BY d.meter_id, d.day
ORDER BY d.meter_id, d.day;

-- All meters of one day (an analyst's "yesterday"), and all meters of a
-- month in meter order with what monthly_usage sums (an index-only scan
-- that needs no sort: 300,000 rows a month at 10,000 meters).
CREATE INDEX meter_days_day_idx ON meter_days (day);
CREATE INDEX meter_days_month_idx ON meter_days (month, meter_id)
	INCLUDE (import_wh, export_wh, import_t1_wh, import_t2_wh, import_t3_wh, quality);
-- An index-only scan reads the table for pages not marked all-visible,
-- which only VACUUM marks; rows arrive 10,000 a day and are rarely
-- updated, so vacuum after 0.5% new rows (about two days), not 20%.
ALTER TABLE meter_days SET (autovacuum_vacuum_insert_scale_factor = 0.005,
			    autovacuum_analyze_scale_factor = 0.02);

-- ---------------------------------------------------------------------
-- Recomputes the rows of the given (meter, day) pairs from
-- daily_registers: inserts or updates a day that has registers, deletes
-- one that has none left. Each pair is read through the primary key of
-- daily_registers (a lateral lookup, never a scan of the table).
--
-- Two transactions writing registers of the same meter and day (a
-- loader and an owner's repair) could each compute the day without the
-- other's uncommitted rows. So the meters are locked first (FOR NO KEY
-- UPDATE: what the loader's upsert of meters holds, and no conflict with
-- the foreign keys' KEY SHARE), in meter order; the statements after the
-- lock see whatever the other committed. Inside a batch (gw_begin_batch)
-- the loader has locked the batch's meters so already, before it wrote
-- their registers, and locking 10,000 rows again would cost the upload a
-- write of each: the lock is taken only outside a batch (gw_assign_meter
-- releasing held data locks its meter too; this is for repairs).
CREATE FUNCTION gw_meter_days_sync(p_meter text[], p_day date[], p_deletes boolean)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
DECLARE
	v_lock boolean;
BEGIN
	IF p_meter IS NULL OR cardinality(p_meter) = 0 THEN
		RETURN;
	END IF;
	-- gw_batch_meters: the batch's meters, as gw_begin_batch() checked
	-- them before it upserted (and so locked) them; empty outside a batch.
	IF to_regclass('pg_temp.gw_batch_meters') IS NULL THEN
		v_lock := true;
	ELSE
		v_lock := EXISTS (SELECT FROM unnest(p_meter) k(meter_id)
				  WHERE NOT EXISTS (SELECT FROM pg_temp.gw_batch_meters b
						    WHERE b.meter_id = k.meter_id));
	END IF;
	IF v_lock THEN
		PERFORM FROM meters m WHERE m.meter_id = ANY (p_meter)
		ORDER BY m.meter_id FOR NO KEY UPDATE OF m;
	END IF;

	INSERT INTO meter_days AS t (meter_id, day, import_wh, export_wh, import_t1_wh,
				     import_t2_wh, import_t3_wh, quality, minutes_missing,
				     registers, revision)
	SELECT k.meter_id, k.day, a.import_wh, a.export_wh, a.import_t1_wh, a.import_t2_wh,
	       a.import_t3_wh, a.quality, a.minutes_missing, a.registers, a.revision
	FROM unnest(p_meter, p_day) AS k(meter_id, day)
	CROSS JOIN LATERAL (
		SELECT max(d.consumption) FILTER (WHERE d.obis = '1.8.0') AS import_wh,
		       max(d.consumption) FILTER (WHERE d.obis = '2.8.0') AS export_wh,
		       max(d.consumption) FILTER (WHERE d.obis = '1.8.1') AS import_t1_wh,
		       max(d.consumption) FILTER (WHERE d.obis = '1.8.2') AS import_t2_wh,
		       max(d.consumption) FILTER (WHERE d.obis = '1.8.3') AS import_t3_wh,
		       (ARRAY['measured', 'interpolated', 'estimated', 'incomplete'])[
			   max(array_position(ARRAY['measured', 'interpolated', 'estimated', 'incomplete'],
					      d.quality::text))] AS quality,
		       max(d.minutes_missing) AS minutes_missing,
		       count(*)::smallint AS registers,
		       max(d.revision) AS revision
		FROM daily_registers d
		WHERE d.meter_id = k.meter_id AND d.day = k.day) a
	WHERE a.registers > 0
	ORDER BY k.meter_id, k.day
	ON CONFLICT (meter_id, day) DO UPDATE SET
		import_wh = EXCLUDED.import_wh, export_wh = EXCLUDED.export_wh,
		import_t1_wh = EXCLUDED.import_t1_wh, import_t2_wh = EXCLUDED.import_t2_wh,
		import_t3_wh = EXCLUDED.import_t3_wh, quality = EXCLUDED.quality,
		minutes_missing = EXCLUDED.minutes_missing, registers = EXCLUDED.registers,
		revision = EXCLUDED.revision
	WHERE (t.import_wh, t.export_wh, t.import_t1_wh, t.import_t2_wh, t.import_t3_wh,
	       t.quality, t.minutes_missing, t.registers, t.revision)
	      IS DISTINCT FROM
	      (EXCLUDED.import_wh, EXCLUDED.export_wh, EXCLUDED.import_t1_wh, EXCLUDED.import_t2_wh,
	       EXCLUDED.import_t3_wh, EXCLUDED.quality, EXCLUDED.minutes_missing,
	       EXCLUDED.registers, EXCLUDED.revision);

	IF p_deletes THEN
		DELETE FROM meter_days t
		USING unnest(p_meter, p_day) AS k(meter_id, day)
		WHERE t.meter_id = k.meter_id AND t.day = k.day
		  AND NOT EXISTS (SELECT FROM daily_registers d
				  WHERE d.meter_id = k.meter_id AND d.day = k.day);
	END IF;
END
$$;

-- The trigger: once per statement on daily_registers, with the rows the
-- statement wrote (an INSERT ... ON CONFLICT DO UPDATE fires it for its
-- inserted and for its updated rows; a row a late, older revision left
-- alone is in neither).
CREATE FUNCTION gw_meter_days_after() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
DECLARE
	v_meter text[];
	v_day date[];
	v_gone boolean := false;
BEGIN
	IF TG_OP = 'INSERT' THEN
		SELECT array_agg(k.meter_id ORDER BY k.meter_id, k.day), array_agg(k.day ORDER BY k.meter_id, k.day)
		INTO v_meter, v_day
		FROM (SELECT DISTINCT n.meter_id, n.day FROM new_rows n) k;
	ELSIF TG_OP = 'UPDATE' THEN
		SELECT array_agg(k.meter_id ORDER BY k.meter_id, k.day), array_agg(k.day ORDER BY k.meter_id, k.day)
		INTO v_meter, v_day
		FROM (SELECT n.meter_id, n.day FROM new_rows n
		      UNION SELECT o.meter_id, o.day FROM old_rows o) k;
		-- A repair that moved a row to another meter or day may leave
		-- a day without registers.
		v_gone := EXISTS (SELECT o.meter_id, o.day FROM old_rows o
				  EXCEPT SELECT n.meter_id, n.day FROM new_rows n);
	ELSE
		SELECT array_agg(k.meter_id ORDER BY k.meter_id, k.day), array_agg(k.day ORDER BY k.meter_id, k.day)
		INTO v_meter, v_day
		FROM (SELECT DISTINCT o.meter_id, o.day FROM old_rows o) k;
		v_gone := true;
	END IF;
	PERFORM gw_meter_days_sync(v_meter, v_day, v_gone);
	RETURN NULL;
END
$$;

CREATE FUNCTION gw_meter_days_truncate() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
BEGIN
	TRUNCATE meter_days;
	RETURN NULL;
END
$$;

CREATE TRIGGER meter_days_ins AFTER INSERT ON daily_registers
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION gw_meter_days_after();
CREATE TRIGGER meter_days_upd AFTER UPDATE ON daily_registers
	REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION gw_meter_days_after();
CREATE TRIGGER meter_days_del AFTER DELETE ON daily_registers
	REFERENCING OLD TABLE AS old_rows
	FOR EACH STATEMENT EXECUTE FUNCTION gw_meter_days_after();
CREATE TRIGGER meter_days_trunc AFTER TRUNCATE ON daily_registers
	FOR EACH STATEMENT EXECUTE FUNCTION gw_meter_days_truncate();

-- ---------------------------------------------------------------------
-- Row-level security, as on daily_registers (003, 006). The portal's
-- policy names the account's meters as an array computed once per query
-- (an initplan), so that a portal query is an index range of its meters
-- and not a check of every row of the table; the account history then
-- decides day by day.
-- 002's gw_session_account() had its own search_path, so it could not be
-- inlined: every row a portal policy checked called it as a function.
-- The same expression, with the name qualified instead, is inlined into
-- the policies and read once per scan.
CREATE OR REPLACE FUNCTION gw_session_account() RETURNS text
LANGUAGE sql STABLE
AS $$ SELECT nullif(pg_catalog.current_setting('gw.customer_account', true), '') $$;
ALTER FUNCTION gw_session_account() RESET ALL;

CREATE FUNCTION gw_portal_meters() RETURNS text[]
LANGUAGE sql
STABLE
SET search_path = pg_catalog, public
AS $$
	SELECT coalesce(array_agg(DISTINCT a.meter_id), '{}')
	FROM meter_accounts a
	WHERE a.customer_account = gw_session_account()
$$;

ALTER TABLE meter_days ENABLE ROW LEVEL SECURITY;
ALTER TABLE meter_days FORCE ROW LEVEL SECURITY;
CREATE POLICY gw_owner_all ON meter_days TO gw_owner USING (true) WITH CHECK (true);
CREATE POLICY analyst_read ON meter_days FOR SELECT TO analyst USING (true);
CREATE POLICY operator_read ON meter_days FOR SELECT TO gw_operator USING (true);
CREATE POLICY portal_read ON meter_days FOR SELECT TO customer_portal
	USING (meter_id = ANY ((SELECT gw_portal_meters())::text[])
	       AND EXISTS (SELECT 1 FROM meter_accounts a
			   WHERE a.meter_id = meter_days.meter_id
			     AND a.customer_account = gw_session_account()
			     AND meter_days.day >= a.valid_from
			     AND (a.valid_to IS NULL OR meter_days.day < a.valid_to)));

-- ---------------------------------------------------------------------
-- The views, same names, columns and order as 002 (CREATE OR REPLACE
-- keeps their grants).
CREATE OR REPLACE VIEW daily_usage WITH (security_invoker = true) AS
SELECT d.meter_id,
       d.day,
       (d.import_wh::numeric / 1000)::numeric(19, 3) AS import_kwh,
       (d.export_wh::numeric / 1000)::numeric(19, 3) AS export_kwh,
       d.quality::text AS quality,
       (d.import_t1_wh::numeric / 1000)::numeric(19, 3) AS import_t1_kwh,
       (d.import_t2_wh::numeric / 1000)::numeric(19, 3) AS import_t2_kwh,
       (d.import_t3_wh::numeric / 1000)::numeric(19, 3) AS import_t3_kwh,
       d.minutes_missing
FROM meter_days d;

COMMENT ON VIEW daily_usage IS
	'kWh per meter and local day; export_kwh/import_tN_kwh NULL when the register is missing; quality = worst register quality';

-- month is meter_days.month, so WHERE month = ... is an index range.
-- Sums of integer Wh, then kWh: the same numbers as 002's sums of kWh.
CREATE OR REPLACE VIEW monthly_usage WITH (security_invoker = true) AS
SELECT d.meter_id,
       d.month,
       count(*)::int AS days,
       (sum(d.import_wh) / 1000)::numeric(19, 3) AS import_kwh,
       (sum(d.export_wh) / 1000)::numeric(19, 3) AS export_kwh,
       (sum(d.import_t1_wh) / 1000)::numeric(19, 3) AS import_t1_kwh,
       (sum(d.import_t2_wh) / 1000)::numeric(19, 3) AS import_t2_kwh,
       (sum(d.import_t3_wh) / 1000)::numeric(19, 3) AS import_t3_kwh,
       count(*) FILTER (WHERE d.quality <> 'measured')::int AS days_not_measured,
       (ARRAY['measured', 'interpolated', 'estimated', 'incomplete'])[
           max(array_position(ARRAY['measured', 'interpolated', 'estimated', 'incomplete'],
                              d.quality::text))]::text AS quality
FROM meter_days d
GROUP BY d.meter_id, d.month;

COMMENT ON VIEW monthly_usage IS 'kWh per meter and month of local days';

-- 002's function, now without its own search_path (a function with SET
-- cannot be inlined; the names are schema-qualified instead, and it runs
-- with the caller's rights, so a caller's search_path can harm only the
-- caller): the planner puts its body into the calling query, the
-- account's meters are read through meter_accounts' index and their days
-- through meter_days' primary key, and a caller's own WHERE on day (as
-- on my_daily_usage) narrows the index range.
CREATE OR REPLACE FUNCTION customer_daily_usage(p_account text, p_from date, p_to date)
RETURNS TABLE (meter_id text, day date, import_kwh numeric, export_kwh numeric,
	       import_t1_kwh numeric, import_t2_kwh numeric, import_t3_kwh numeric,
	       quality text)
LANGUAGE sql
STABLE
SECURITY INVOKER
AS $$
	SELECT u.meter_id, u.day, u.import_kwh, u.export_kwh,
	       u.import_t1_kwh, u.import_t2_kwh, u.import_t3_kwh, u.quality
	FROM public.meter_accounts a
	JOIN public.daily_usage u ON u.meter_id = a.meter_id
	     AND u.day >= a.valid_from AND (a.valid_to IS NULL OR u.day < a.valid_to)
	WHERE a.customer_account = p_account
	  AND u.day >= p_from AND u.day < p_to
	ORDER BY u.day, u.meter_id
$$;
ALTER FUNCTION customer_daily_usage(text, date, date) RESET ALL;

COMMENT ON FUNCTION customer_daily_usage(text, date, date) IS
	'daily usage of one customer account over [p_from, p_to), following the meter_accounts history';

-- ---------------------------------------------------------------------
ALTER TABLE meter_days OWNER TO gw_owner;
ALTER FUNCTION gw_meter_days_sync(text[], date[], boolean) OWNER TO gw_owner;
ALTER FUNCTION gw_meter_days_after() OWNER TO gw_owner;
ALTER FUNCTION gw_meter_days_truncate() OWNER TO gw_owner;
ALTER FUNCTION gw_portal_meters() OWNER TO gw_owner;
REVOKE ALL ON meter_days FROM PUBLIC;
REVOKE ALL ON FUNCTION gw_meter_days_sync(text[], date[], boolean), gw_meter_days_after(),
	gw_meter_days_truncate(), gw_portal_meters() FROM PUBLIC;
GRANT SELECT ON meter_days TO analyst, gw_operator, customer_portal;
GRANT EXECUTE ON FUNCTION gw_portal_meters() TO customer_portal;

ANALYZE meter_days;
