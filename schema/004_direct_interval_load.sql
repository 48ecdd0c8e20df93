-- SPDX-License-Identifier: MIT
-- 004_direct_interval_load: interval readings go by COPY straight into
-- their month's partition, still exactly once and still only for the
-- batch's own meters.
--
-- Until 003 every interval reading was COPYed into a session temporary
-- table and then moved by gw_apply_staged() with INSERT ... SELECT into
-- interval_readings. That INSERT inserts row by row, while COPY inserts
-- whole pages at a time: a day of 10,000 meters (2,880,000 readings)
-- took 6.3-6.6 s that way against 4.0 s for COPY into the partitions
-- (the same machine, side by side). COPY cannot go to interval_readings
-- itself (row-level security is forced on it, and COPY FROM refuses a
-- table with row-level security), but it can go to a month partition,
-- which has none and which nobody but the loader and the owner may touch.
--
-- A batch is loaded in one transaction, in two query strings:
--
--   BEGIN;
--   COPY pg_temp.gw_stage FROM STDIN (FORMAT binary);    -- header, meters, days, events
--   SELECT * FROM gw_begin_batch(true);                  -- checks, ledger, meters, days,
--                                                        -- events; where the readings go
--   -- then, only if it said 'applied':
--   COPY public.interval_readings_2026_02 (...) FROM STDIN (FORMAT binary);
--   COPY public.interval_readings_2026_03 (...) FROM STDIN (FORMAT binary);
--   SELECT gw_end_batch();                               -- all promised rows arrived
--   COMMIT;
--
-- What keeps a gateway to its own data:
--   * gw_uploader and gw_loader_any may INSERT into the month partitions
--     (no SELECT, UPDATE, DELETE, TRUNCATE), and every partition has a
--     statement trigger, gw_interval_batch_check(), that refuses the
--     statement unless a batch was begun in this transaction and not yet
--     ended, every row's meter is one of the batch's meters (as checked
--     and recorded by gw_begin_batch, not as staged: the session can still
--     write to its staging table), and every row lies between the batch's
--     first and last reading. It reads the inserted rows once, from the
--     statement's transition table.
--   * What gw_begin_batch records lives in two temporary tables it makes
--     as gw_owner; the session's role has no privilege on them and no
--     TEMP privilege to make look-alikes.
--
-- A revision of a day (revision > 0), or a first revision whose readings
-- are already stored (the COPY then fails on the primary key and the
-- client loads the batch again with gw_begin_batch(false)), goes the old
-- way: COPY into pg_temp.gw_stage_interval, and gw_end_batch() moves the
-- rows with INSERT ... ON CONFLICT DO NOTHING. gw_apply_staged(), which
-- gateways of the previous release call, is now gw_begin_batch(false)
-- followed by gw_end_batch(): old and new gateways can load side by side.

-- ---------------------------------------------------------------------
-- The batch of this transaction, as gw_begin_batch() checked it. Made on
-- first use in the session's temporary schema, owned by gw_owner; rows
-- vanish at COMMIT or ROLLBACK.
CREATE FUNCTION gw_batch_state_open() RETURNS void
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
END
$$;

-- ---------------------------------------------------------------------
-- Checks the rows one INSERT or COPY put into a month partition (see the
-- top of this file) and counts them for gw_end_batch(). Runs as gw_owner.
-- Outside a batch only the owner (or a superuser) may write to a
-- partition, for repairs.
CREATE FUNCTION gw_interval_batch_check() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
	st record;
	v_found boolean := false;
	n bigint;
	lo timestamptz;
	hi timestamptz;
	bad text;
BEGIN
	IF to_regclass('pg_temp.gw_batch_state') IS NOT NULL THEN
		SELECT * INTO st FROM pg_temp.gw_batch_state WHERE direct AND NOT ended;
		v_found := FOUND;
	END IF;
	IF NOT v_found THEN
		IF pg_has_role(session_user, 'gw_owner', 'MEMBER') THEN
			RETURN NULL; -- a repair by the owner
		END IF;
		RAISE EXCEPTION 'role % may not insert into % outside a batch (gw_begin_batch)',
			session_user, TG_TABLE_NAME
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	SELECT sum(g.c), min(g.lo), max(g.hi),
	       min(g.meter_id) FILTER (WHERE m.meter_id IS NULL)
	INTO n, lo, hi, bad
	FROM (SELECT r.meter_id, count(*) AS c, min(r.ts) AS lo, max(r.ts) AS hi
	      FROM new_rows r GROUP BY r.meter_id) g
	LEFT JOIN pg_temp.gw_batch_meters m ON m.meter_id = g.meter_id;
	IF bad IS NOT NULL THEN
		RAISE EXCEPTION 'meter % is not one of the meters of batch % %', bad, st.gateway_id, st.day
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	IF n IS NULL THEN
		RETURN NULL;
	END IF;
	IF lo < st.ts_lo OR hi > st.ts_hi THEN
		RAISE EXCEPTION 'interval readings from % to % lie outside batch % % (% to %)',
			lo, hi, st.gateway_id, st.day, st.ts_lo, st.ts_hi
			USING ERRCODE = 'data_exception';
	END IF;
	UPDATE pg_temp.gw_batch_state SET loaded = loaded + n;
	RETURN NULL;
END
$$;

-- Makes the partition holding ts if it does not exist (as 002), now with
-- the batch check and INSERT for the loader roles. Returns its name.
CREATE OR REPLACE FUNCTION gw_ensure_interval_partition(p_ts timestamptz)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
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
	PERFORM gw_interval_partition_prepare(format('public.%I', name)::regclass);
	EXECUTE format('ALTER TABLE public.interval_readings ATTACH PARTITION public.%I '
		       'FOR VALUES FROM (%L) TO (%L)', name, lo, hi);
	RETURN name;
END
$$;

-- The trigger and the grant every month partition has.
CREATE FUNCTION gw_interval_partition_prepare(p_part regclass) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
	EXECUTE format('CREATE TRIGGER gw_batch_check AFTER INSERT ON %s '
		       'REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT '
		       'EXECUTE FUNCTION public.gw_interval_batch_check()', p_part);
	EXECUTE format('REVOKE ALL ON %s FROM PUBLIC', p_part);
	EXECUTE format('GRANT INSERT ON %s TO gw_uploader, gw_loader_any', p_part);
END
$$;

SELECT gw_interval_partition_prepare(i.inhrelid::regclass)
FROM pg_inherits i
WHERE i.inhparent = 'public.interval_readings'::regclass;

-- ---------------------------------------------------------------------
-- Begins loading the staged batch (pg_temp.gw_stage, see 003): checks
-- who may load it, writes the ledger row, the meters, daily registers and
-- events, and records the batch for the interval readings that follow.
-- Returns:
--   ('duplicate', stored_crc, NULL, NULL, NULL)
--       the ledger has (gateway, day, revision) already; nothing changed
--       but gateways.last_seen. Send COMMIT (or ROLLBACK).
--   ('applied', NULL, target, ts_from, ts_to), one row per target
--       COPY the readings with ts_from <= ts < ts_to (Unix ms; NULL: no
--       bound) into target (meter_id, obis, ts, value, scale, unit), in
--       the order of the rows; then SELECT gw_end_batch() and COMMIT.
--       target is a quoted table name: a month partition when p_direct
--       and the batch is a day's first revision, else
--       pg_temp.gw_stage_interval. With no readings: one row with a NULL
--       target.
-- Raises insufficient_privilege (42501) when the session's role may not
-- load this gateway or one of these meters, and an error for a staged
-- batch that is not consistent (the transaction must then roll back).
CREATE FUNCTION gw_begin_batch(p_direct boolean DEFAULT true)
RETURNS TABLE (status text, stored_crc bigint, target text, ts_from bigint, ts_to bigint)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
	h record;
	v_any boolean;
	v_mine text;
	v_bad text;
	v_direct boolean;
	v_month timestamptz;
	v_next timestamptz;
	v_repl record;
	n bigint;
	n_ev bigint;
BEGIN
	PERFORM gw_batch_state_open();
	IF EXISTS (SELECT FROM pg_temp.gw_batch_state) THEN
		RAISE EXCEPTION 'a batch was begun in this transaction already'
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
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
		RETURN QUERY SELECT 'duplicate'::text, l.crc, NULL::text, NULL::bigint, NULL::bigint
			FROM batch_ledger l
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
	IF h.n2 > 0 AND (h.ts IS NULL OR h.ts2 IS NULL OR h.ts2 < h.ts) THEN
		RAISE EXCEPTION 'staged batch has % interval rows but no valid time range', h.n2
			USING ERRCODE = 'data_exception';
	END IF;
	-- A gateway's batch holds the readings of its local day. Readings
	-- weeks away from it (a meter clock gone wrong, a broken producer)
	-- are refused rather than given partitions of their own: one
	-- reading in 2000 would otherwise make 300 months of partitions.
	IF h.n2 > 0 AND (h.ts < (h.day - 7)::timestamp AT TIME ZONE 'UTC' OR
			 h.ts2 >= (h.day + 8)::timestamp AT TIME ZONE 'UTC') THEN
		RAISE EXCEPTION 'staged batch of day % has interval readings from % to %, more than a week away from its day',
			h.day, h.ts, h.ts2 USING ERRCODE = 'data_exception';
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

	INSERT INTO meter_events (meter_id, ts, kind, obis, detail, gateway_id)
	SELECT s.meter_id, s.ts, s.quality, coalesce(s.obis, ''), nullif(s.detail, ''), h.meter_id
	FROM pg_temp.gw_stage s WHERE s.k = 'e'
	ON CONFLICT DO NOTHING;

	-- Meters the gateway saw replaced (its serial number changed: detail
	-- "serial OLD -> NEW"): the serial number history follows, from the
	-- local day of the new meter's first reading. Loading the batch again
	-- (a revision carries its events again) changes nothing more.
	FOR v_repl IN
		SELECT s.meter_id, (s.ts AT TIME ZONE coalesce(h.obis, 'UTC'))::date AS day,
		       substring(s.detail FROM '^serial (.+) -> ') AS old_serial,
		       substring(s.detail FROM ' -> (.+)$') AS new_serial
		FROM pg_temp.gw_stage s
		WHERE s.k = 'e' AND s.quality = 'meter_replaced' AND s.detail ~ '^serial .+ -> .+$'
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

	-- What the interval readings that follow are checked against.
	v_direct := p_direct AND h.v1 = 0;
	INSERT INTO pg_temp.gw_batch_state (gateway_id, day, revision, direct, ts_lo, ts_hi, expected)
	VALUES (h.meter_id, h.day, h.v1, v_direct, h.ts, h.ts2, h.n2);
	INSERT INTO pg_temp.gw_batch_meters (meter_id)
	SELECT DISTINCT s.meter_id FROM pg_temp.gw_stage s WHERE s.k = 'm';

	IF h.n2 = 0 THEN
		RETURN QUERY SELECT 'applied'::text, NULL::bigint, NULL::text, NULL::bigint, NULL::bigint;
		RETURN;
	END IF;
	-- The partitions of the months of the readings (UTC), made if need be.
	v_month := date_trunc('month', h.ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
	WHILE v_month <= h.ts2 LOOP
		v_next := (date_trunc('month', v_month AT TIME ZONE 'UTC') + interval '1 month')
			  AT TIME ZONE 'UTC';
		IF v_direct THEN
			RETURN QUERY SELECT 'applied'::text, NULL::bigint,
				format('public.%I', gw_ensure_interval_partition(v_month)),
				(extract(epoch FROM v_month) * 1000)::bigint,
				(extract(epoch FROM v_next) * 1000)::bigint;
		ELSE
			PERFORM gw_ensure_interval_partition(v_month);
		END IF;
		v_month := v_next;
	END LOOP;
	IF NOT v_direct THEN
		RETURN QUERY SELECT 'applied'::text, NULL::bigint, 'pg_temp.gw_stage_interval'::text,
			NULL::bigint, NULL::bigint;
	END IF;
END
$$;

-- Ends loading the batch begun by gw_begin_batch(): moves the staged
-- readings (when they were staged) and checks that exactly the number of
-- interval rows the header promised arrived. Raises data_exception if
-- not, and object_not_in_prerequisite_state if no batch was begun.
CREATE FUNCTION gw_end_batch() RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
	st record;
	v_found boolean := false;
	n bigint;
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
		-- Interval readings are raw measurements: one already stored
		-- (same meter, register, time; say from an earlier revision of
		-- the day) is kept. A first revision rarely meets one, so it is
		-- tried as a plain INSERT (much faster than ON CONFLICT) and
		-- redone with ON CONFLICT if it does. Only the batch's meters'
		-- rows are taken; the count proves none was left out.
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
	END IF;
	IF n <> st.expected THEN
		RAISE EXCEPTION 'batch % % r% has % interval rows of its meters, its header says %',
			st.gateway_id, st.day, st.revision, n, st.expected
			USING ERRCODE = 'data_exception';
	END IF;
	UPDATE pg_temp.gw_batch_state SET ended = true, loaded = n;
END
$$;

-- The one-call loader of 003, for gateways of the previous release: all
-- readings staged, then moved.
CREATE OR REPLACE FUNCTION gw_apply_staged()
RETURNS TABLE (status text, stored_crc bigint)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
	r record;
BEGIN
	SELECT * INTO r FROM gw_begin_batch(false) b LIMIT 1;
	IF r.status = 'applied' THEN
		PERFORM gw_end_batch();
	END IF;
	RETURN QUERY SELECT r.status, r.stored_crc;
END
$$;

ALTER FUNCTION gw_batch_state_open() OWNER TO gw_owner;
ALTER FUNCTION gw_interval_batch_check() OWNER TO gw_owner;
ALTER FUNCTION gw_ensure_interval_partition(timestamptz) OWNER TO gw_owner;
ALTER FUNCTION gw_interval_partition_prepare(regclass) OWNER TO gw_owner;
ALTER FUNCTION gw_begin_batch(boolean) OWNER TO gw_owner;
ALTER FUNCTION gw_end_batch() OWNER TO gw_owner;
ALTER FUNCTION gw_apply_staged() OWNER TO gw_owner;
REVOKE ALL ON FUNCTION gw_batch_state_open(), gw_interval_batch_check(),
	gw_interval_partition_prepare(regclass), gw_begin_batch(boolean), gw_end_batch()
	FROM PUBLIC;
GRANT EXECUTE ON FUNCTION gw_begin_batch(boolean), gw_end_batch() TO gw_uploader, gw_loader_any;
