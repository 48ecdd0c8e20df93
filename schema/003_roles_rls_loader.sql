-- SPDX-License-Identifier: MIT
-- 003_roles_rls_loader: roles, row-level security and the loader.
--
-- Roles (cluster-wide, made here if missing; all NOLOGIN groups: give
-- people and programs their own LOGIN roles IN ROLE one of them):
--
--   gw_owner         owns every table, view and function (002); not a
--                    superuser; row-level security is FORCEd on its tables
--   gw_uploader      a gateway: may call gw_stage_open() and
--                    gw_apply_staged() and nothing else -- no SELECT,
--                    UPDATE or DELETE on any table, no TEMP. Each gateway
--                    has its own LOGIN role in gw_uploader, bound to its
--                    gateway_id with gw_register_gateway(); it can load
--                    that gateway's batches, for that gateway's meters.
--   gw_loader_any    a back-office loader (gwctl upload of files shipped
--                    from gateways): like gw_uploader, for any gateway
--   analyst          reads everything, writes nothing
--   customer_portal  reads the usage of one customer account: the one its
--                    session set with SET gw.customer_account = '...'
--
-- docs/deployment-database.md has the commands to create login roles,
-- passwords in a password file, TLS and client certificates.

DO $$
DECLARE
	r text;
BEGIN
	FOREACH r IN ARRAY ARRAY['gw_uploader', 'gw_loader_any', 'analyst', 'customer_portal'] LOOP
		IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
			EXECUTE format('CREATE ROLE %I NOLOGIN', r);
		END IF;
	END LOOP;
	-- The database: only our roles connect; only the owner (staging
	-- tables) and analysts (their own scratch tables) have TEMP.
	EXECUTE format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
	EXECUTE format('GRANT CONNECT ON DATABASE %I TO gw_uploader, gw_loader_any, analyst, customer_portal',
		       current_database());
	EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO gw_owner, analyst', current_database());
END
$$;

GRANT USAGE ON SCHEMA public TO gw_uploader, gw_loader_any, analyst, customer_portal;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM PUBLIC;

-- ---------------------------------------------------------------------
-- Row-level security, forced: the owner too (and so every definer
-- function and every view, which are security_invoker) sees rows only
-- through a policy. Superusers bypass it; never load or serve as one.

-- The account of the customer portal's session, NULL if none (002).
GRANT EXECUTE ON FUNCTION gw_session_account() TO customer_portal, analyst;

-- Whether the portal's session account may see meter p_meter at instant
-- p_ts: the meter served the account on the local day of p_ts (in the
-- zone of the meter's gateway). Used by the policies of the tables keyed
-- by time; it reads gateways, which the portal may not.
CREATE FUNCTION gw_portal_may_see(p_meter text, p_ts timestamptz)
RETURNS boolean
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
	SELECT EXISTS (
		SELECT 1
		FROM meter_accounts a
		JOIN meters m ON m.meter_id = a.meter_id
		LEFT JOIN gateways g ON g.gateway_id = m.gateway_id
		WHERE a.meter_id = p_meter
		  AND a.customer_account = gw_session_account()
		  AND (p_ts AT TIME ZONE coalesce(g.timezone, 'UTC'))::date >= a.valid_from
		  AND (a.valid_to IS NULL OR (p_ts AT TIME ZONE coalesce(g.timezone, 'UTC'))::date < a.valid_to))
$$;
ALTER FUNCTION gw_portal_may_see(text, timestamptz) OWNER TO gw_owner;
REVOKE ALL ON FUNCTION gw_portal_may_see(text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION gw_portal_may_see(text, timestamptz) TO customer_portal;

DO $$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['gateways', 'meters', 'batch_ledger', 'daily_registers',
				 'interval_readings', 'meter_events', 'meter_serials',
				 'meter_accounts'] LOOP
		EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
		EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
		EXECUTE format('CREATE POLICY gw_owner_all ON %I TO gw_owner USING (true) WITH CHECK (true)', t);
		EXECUTE format('CREATE POLICY analyst_read ON %I FOR SELECT TO analyst USING (true)', t);
		EXECUTE format('GRANT SELECT ON %I TO analyst', t);
	END LOOP;
END
$$;

CREATE POLICY portal_read ON meter_accounts FOR SELECT TO customer_portal
	USING (customer_account = gw_session_account());
CREATE POLICY portal_read ON meters FOR SELECT TO customer_portal
	USING (meter_id IN (SELECT a.meter_id FROM meter_accounts a
			    WHERE a.customer_account = gw_session_account()));
CREATE POLICY portal_read ON daily_registers FOR SELECT TO customer_portal
	USING (EXISTS (SELECT 1 FROM meter_accounts a
		       WHERE a.meter_id = daily_registers.meter_id
			 AND a.customer_account = gw_session_account()
			 AND daily_registers.day >= a.valid_from
			 AND (a.valid_to IS NULL OR daily_registers.day < a.valid_to)));
CREATE POLICY portal_read ON interval_readings FOR SELECT TO customer_portal
	USING (gw_portal_may_see(meter_id, ts));
CREATE POLICY portal_read ON meter_events FOR SELECT TO customer_portal
	USING (gw_portal_may_see(meter_id, ts));

GRANT SELECT ON meters, meter_accounts, daily_registers, interval_readings, meter_events
	TO customer_portal;
GRANT SELECT ON daily_usage, monthly_usage, my_daily_usage TO analyst, customer_portal;
GRANT SELECT ON schema_migrations TO analyst;
GRANT EXECUTE ON FUNCTION customer_daily_usage(text, date, date) TO analyst, customer_portal;

-- ---------------------------------------------------------------------
-- The loader.
--
-- A gateway has no privilege on any table. It loads a batch in one
-- transaction, in one query string (two COPYs and one function call):
--
--   BEGIN;
--   COPY pg_temp.gw_stage FROM STDIN (FORMAT binary);           -- header, meters, days, events
--   COPY pg_temp.gw_stage_interval FROM STDIN (FORMAT binary);  -- interval readings
--   SELECT * FROM gw_apply_staged();
--   COMMIT;
--
-- The staging tables are temporary tables made by gw_stage_open() (once
-- per connection) and owned by gw_owner; the session's login role may
-- only INSERT into them (COPY). gw_apply_staged() runs as gw_owner: it
-- checks that the session's role may load this gateway and these meters,
-- writes the ledger row first, then meters, daily registers, interval
-- readings and events. All of it commits together or not at all.

-- Makes this session's staging tables (if not made yet) and lets the
-- session's login role COPY into them. Rows vanish at every COMMIT.
--
-- gw_stage rows, by kind k:
--   'b' the batch (exactly one): meter_id = gateway id, obis = time zone,
--       day, ts / ts2 = first / last interval reading (NULL if none),
--       v1 = revision, v2 = CRC-32 of the batch file, v3 = sealed at (ms
--       since 1970), n1 / n2 / n3 = number of daily / interval / event rows
--   'm' a meter the batch mentions: meter_id
--   'd' a daily register: meter_id, obis, unit, v1 = start, v2 = end,
--       v3 = consumption, quality, n1 = readings, n2 = minutes missing
--   'e' an event: meter_id, obis ('' if none), ts, quality = kind, detail
CREATE FUNCTION gw_stage_open() RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
BEGIN
	IF to_regclass('pg_temp.gw_stage') IS NULL THEN
		CREATE TEMP TABLE gw_stage (
			k        "char" NOT NULL,
			meter_id text,
			obis     text,
			day      date,
			ts       timestamptz,
			ts2      timestamptz,
			v1       bigint,
			v2       bigint,
			v3       bigint,
			n1       bigint,
			n2       bigint,
			n3       bigint,
			unit     text,
			quality  text,
			detail   text
		) ON COMMIT DELETE ROWS;
	END IF;
	IF to_regclass('pg_temp.gw_stage_interval') IS NULL THEN
		CREATE TEMP TABLE gw_stage_interval (
			meter_id text,
			obis     text,
			ts       timestamptz,
			value    bigint,
			scale    smallint,
			unit     text
		) ON COMMIT DELETE ROWS;
	END IF;
	EXECUTE format('GRANT INSERT ON pg_temp.gw_stage, pg_temp.gw_stage_interval TO %I',
		       session_user);
END
$$;

-- Applies the staged batch. Returns one row:
--   ('applied', NULL)          the batch is applied (commit to keep it)
--   ('duplicate', stored_crc)  the ledger has (gateway, day, revision)
--                              already: nothing was changed
-- Raises insufficient_privilege (42501) when the session's role may not
-- load this gateway or one of these meters, and an error for a staged
-- batch that is not consistent (the transaction must then roll back).
CREATE FUNCTION gw_apply_staged()
RETURNS TABLE (status text, stored_crc bigint)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
DECLARE
	h record;
	v_any boolean;
	v_mine text;
	v_bad text;
	v_month timestamptz;
	n bigint;
	n_ev bigint;
BEGIN
	SELECT count(*) INTO n FROM pg_temp.gw_stage WHERE k = 'b';
	IF n <> 1 THEN
		RAISE EXCEPTION 'staged batch has % header rows, expected 1', n
			USING ERRCODE = 'data_exception';
	END IF;
	SELECT * INTO h FROM pg_temp.gw_stage WHERE k = 'b';

	-- Who may load what. session_user is the login role (a definer
	-- function changes current_user only).
	v_any := pg_has_role(session_user, 'gw_loader_any', 'MEMBER');
	IF NOT v_any THEN
		SELECT g.gateway_id INTO v_mine FROM gateways g WHERE g.upload_role = session_user;
		IF v_mine IS DISTINCT FROM h.meter_id THEN
			RAISE EXCEPTION 'role % may not load batches of gateway %', session_user, h.meter_id
				USING ERRCODE = 'insufficient_privilege';
		END IF;
		SELECT s.meter_id INTO v_bad
		FROM pg_temp.gw_stage s JOIN meters m ON m.meter_id = s.meter_id
		WHERE s.k = 'm' AND m.gateway_id IS DISTINCT FROM h.meter_id AND m.gateway_id IS NOT NULL
		LIMIT 1;
		IF FOUND THEN
			RAISE EXCEPTION 'meter % belongs to another gateway', v_bad
				USING ERRCODE = 'insufficient_privilege',
				      HINT = 'the back office moves a meter with UPDATE meters SET gateway_id = ...';
		END IF;
		UPDATE gateways SET last_seen = now(), timezone = coalesce(h.obis, timezone)
		WHERE gateway_id = h.meter_id;
	ELSE
		INSERT INTO gateways (gateway_id, timezone) VALUES (h.meter_id, h.obis)
		ON CONFLICT (gateway_id) DO UPDATE SET last_seen = now(),
			timezone = coalesce(EXCLUDED.timezone, gateways.timezone);
	END IF;

	-- The ledger row first: a second loader of the same batch waits on
	-- its key here and then finds it taken.
	INSERT INTO batch_ledger (gateway_id, day, revision, crc, timezone, created_at,
				  daily_rows, interval_rows)
	VALUES (h.meter_id, h.day, h.v1, h.v2, h.obis, to_timestamp(h.v3 / 1000.0),
		h.n1, h.n2)
	ON CONFLICT DO NOTHING;
	IF NOT FOUND THEN
		RETURN QUERY SELECT 'duplicate'::text, l.crc FROM batch_ledger l
			WHERE l.gateway_id = h.meter_id AND l.day = h.day AND l.revision = h.v1;
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

	-- Partitions for the months of the readings (UTC).
	IF h.ts IS NOT NULL THEN
		v_month := date_trunc('month', h.ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
		WHILE v_month <= h.ts2 LOOP
			PERFORM gw_ensure_interval_partition(v_month);
			v_month := (date_trunc('month', v_month AT TIME ZONE 'UTC') + interval '1 month')
				   AT TIME ZONE 'UTC';
		END LOOP;
	END IF;

	-- Meters, sorted so that two batches lock shared meters in the same
	-- order. A meter follows the gateway that reported its latest day.
	INSERT INTO meters (meter_id, gateway_id, first_day, last_day)
	SELECT DISTINCT s.meter_id, h.meter_id, h.day, h.day
	FROM pg_temp.gw_stage s WHERE s.k = 'm'
	ORDER BY 1
	ON CONFLICT (meter_id) DO UPDATE SET last_seen = now(),
		first_day = LEAST(meters.first_day, EXCLUDED.first_day),
		last_day = GREATEST(meters.last_day, EXCLUDED.last_day),
		gateway_id = CASE WHEN meters.last_day IS NULL OR EXCLUDED.last_day >= meters.last_day
			     THEN EXCLUDED.gateway_id ELSE meters.gateway_id END;

	-- Daily registers: a later revision replaces an earlier one; an older
	-- revision arriving late changes nothing.
	INSERT INTO daily_registers (meter_id, day, obis, unit, start_value, end_value,
				     consumption, quality, readings, minutes_missing,
				     revision, gateway_id)
	SELECT s.meter_id, h.day, s.obis, s.unit, s.v1, s.v2, s.v3, s.quality,
	       s.n1, s.n2, h.v1, h.meter_id
	FROM pg_temp.gw_stage s WHERE s.k = 'd'
	ON CONFLICT (meter_id, day, obis) DO UPDATE SET
		unit = EXCLUDED.unit, start_value = EXCLUDED.start_value,
		end_value = EXCLUDED.end_value, consumption = EXCLUDED.consumption,
		quality = EXCLUDED.quality, readings = EXCLUDED.readings,
		minutes_missing = EXCLUDED.minutes_missing,
		revision = EXCLUDED.revision, gateway_id = EXCLUDED.gateway_id,
		loaded_at = now()
	WHERE daily_registers.revision < EXCLUDED.revision;

	-- Interval readings are raw measurements: one already stored (same
	-- meter, register, time; say from an earlier revision of the day) is
	-- kept. A first revision rarely meets one, so it is tried as a plain
	-- INSERT (much faster than ON CONFLICT) and redone with ON CONFLICT
	-- if it does. Only the batch's meters' rows are taken; the count
	-- proves none was left out.
	IF h.v1 = 0 THEN
		BEGIN
			INSERT INTO interval_readings (meter_id, obis, ts, value, scale, unit)
			SELECT s.meter_id, s.obis, s.ts, s.value, s.scale, s.unit
			FROM pg_temp.gw_stage_interval s
			WHERE s.meter_id IN (SELECT m.meter_id FROM pg_temp.gw_stage m WHERE m.k = 'm');
			GET DIAGNOSTICS n = ROW_COUNT;
		EXCEPTION WHEN unique_violation THEN
			n := -1;
		END;
	ELSE
		n := -1;
	END IF;
	IF n < 0 THEN
		SELECT count(*) INTO n FROM pg_temp.gw_stage_interval s
		WHERE s.meter_id IN (SELECT m.meter_id FROM pg_temp.gw_stage m WHERE m.k = 'm');
		INSERT INTO interval_readings (meter_id, obis, ts, value, scale, unit)
		SELECT s.meter_id, s.obis, s.ts, s.value, s.scale, s.unit
		FROM pg_temp.gw_stage_interval s
		WHERE s.meter_id IN (SELECT m.meter_id FROM pg_temp.gw_stage m WHERE m.k = 'm')
		ON CONFLICT (meter_id, obis, ts) DO NOTHING;
	END IF;
	IF n <> h.n2 THEN
		RAISE EXCEPTION 'staged batch has % interval rows of its meters, its header says %',
			n, h.n2 USING ERRCODE = 'data_exception';
	END IF;

	INSERT INTO meter_events (meter_id, ts, kind, obis, detail, gateway_id)
	SELECT s.meter_id, s.ts, s.quality, coalesce(s.obis, ''), nullif(s.detail, ''), h.meter_id
	FROM pg_temp.gw_stage s WHERE s.k = 'e'
	ON CONFLICT DO NOTHING;

	RETURN QUERY SELECT 'applied'::text, NULL::bigint;
END
$$;

-- Binds a gateway to the login role that loads its batches (run by an
-- administrator after CREATE ROLE ... LOGIN IN ROLE gw_uploader).
CREATE FUNCTION gw_register_gateway(p_gateway text, p_role name, p_timezone text DEFAULT NULL)
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
	INSERT INTO gateways (gateway_id, upload_role, timezone)
	VALUES (p_gateway, p_role, p_timezone)
	ON CONFLICT (gateway_id) DO UPDATE SET upload_role = EXCLUDED.upload_role,
		timezone = coalesce(EXCLUDED.timezone, gateways.timezone);
END
$$;

ALTER FUNCTION gw_stage_open() OWNER TO gw_owner;
ALTER FUNCTION gw_apply_staged() OWNER TO gw_owner;
ALTER FUNCTION gw_register_gateway(text, name, text) OWNER TO gw_owner;
REVOKE ALL ON FUNCTION gw_stage_open(), gw_apply_staged(), gw_register_gateway(text, name, text)
	FROM PUBLIC;
GRANT EXECUTE ON FUNCTION gw_stage_open(), gw_apply_staged() TO gw_uploader, gw_loader_any;
