-- SPDX-License-Identifier: MIT
-- 011_notices: a notice per customer account and day, instead of an SMS,
-- for the utility's app, Zalo and e-mail senders (docs/notices.md).
--
--   * customer_notices: one row per notice, its figures (jsonb, exact Wh)
--     and its texts in Vietnamese and English, rendered when it is made
--     from notice_templates (data, the operator's to edit) with the
--     settings of notice_settings (one row, the operator's to change).
--     Kinds: daily (yesterday's kWh, against the usual day = the median of
--     the previous usual_days days, month to date, bill estimate),
--     unusual (a day above unusual_ratio x the usual day and at least
--     unusual_min_wh above it), outage (a power_outage ended by the
--     meter's next online event, with its duration), correction (a day's
--     kWh changed by at least correction_min_wh after its daily notice).
--   * gw_notices_make(day) writes the notices of one local day, for every
--     account whose day is loaded (every meter it held that day has its
--     meter_days row); idempotent (a second run writes nothing).
--     gw_notices_run() runs it for the last lookback_days days (a timer,
--     hourly). Both for gw_operator.
--   * notice_deliveries: per notice and channel (app, zalo, email) one
--     row. Senders (role notice_sender) claim, acknowledge, fail and
--     release them through four functions and nothing else: two senders
--     never hold one delivery at once (FOR UPDATE SKIP LOCKED, a lease);
--     an acknowledgement is recorded once; a claim whose lease ran out
--     goes to the next sender, and the first one's late acknowledgement
--     is then refused.
--   * Row-level security: the customer portal reads its own account's
--     notices, nothing else; it sees no deliveries.
--
-- The month-to-date bill comes from gw_bill_estimate(account, day)
-- (010_tariff), looked up when the notices are made: without it (or
-- without a tariff for the account) the bill part of a text is left out.

-- ---------------------------------------------------------------------
-- Settings: one row; change it with UPDATE notice_settings SET ...
CREATE TABLE notice_settings (
	id                  boolean PRIMARY KEY DEFAULT true CHECK (id),
	-- "today" and "yesterday" of gw_notices_run(); also the zone of an
	-- outage's day when the meter's gateway has none
	timezone            text NOT NULL DEFAULT 'Asia/Ho_Chi_Minh'
	                    CHECK (gw_valid_timezone(timezone)),
	-- the usual day: the median of the account's days among the
	-- usual_days days before the day; compared only with at least
	-- usual_min_days of them
	usual_days          int NOT NULL DEFAULT 30 CHECK (usual_days BETWEEN 7 AND 366),
	usual_min_days      int NOT NULL DEFAULT 7 CHECK (usual_min_days >= 1),
	-- unusual: the day's Wh > unusual_ratio x the usual day's, and at
	-- least unusual_min_wh more than it (0.3 kWh against 0.1 is not)
	unusual_ratio       numeric(6, 2) NOT NULL DEFAULT 2.0 CHECK (unusual_ratio > 1),
	unusual_min_wh      bigint NOT NULL DEFAULT 2000 CHECK (unusual_min_wh >= 0),
	-- outages shorter than this get no notice
	outage_min_minutes  int NOT NULL DEFAULT 5 CHECK (outage_min_minutes >= 0),
	-- a day's kWh changed by at least this after its notice: a correction
	correction_min_wh   bigint NOT NULL DEFAULT 100 CHECK (correction_min_wh >= 1),
	-- gw_notices_run() makes the notices of the days yesterday-lookback+1 .. yesterday
	lookback_days       int NOT NULL DEFAULT 3 CHECK (lookback_days BETWEEN 1 AND 31),
	-- a delivery failed this often (gw_notice_fail) is given up
	max_attempts        int NOT NULL DEFAULT 10 CHECK (max_attempts BETWEEN 1 AND 1000),
	CHECK (usual_min_days <= usual_days)
);
INSERT INTO notice_settings DEFAULT VALUES;
COMMENT ON TABLE notice_settings IS
	'settings of the customer notices (one row): usual day, unusual-usage threshold, outages, corrections';

-- ---------------------------------------------------------------------
-- Templates: the texts of each kind in each language. {name} is a value
-- (gw_notice_placeholders() lists the names a kind may use); [[ ... ]]
-- is a part left out when a value in it is not known (no usual day yet,
-- no bill). Checked when written.
CREATE TABLE notice_templates (
	kind       text NOT NULL CHECK (kind IN ('daily', 'unusual', 'outage', 'correction')),
	lang       text NOT NULL CHECK (lang IN ('vi', 'en')),
	subject    text NOT NULL CHECK (length(subject) BETWEEN 1 AND 200),
	body       text NOT NULL CHECK (length(body) BETWEEN 1 AND 2000),
	updated_at timestamptz NOT NULL DEFAULT now(),
	updated_by name NOT NULL DEFAULT session_user,
	PRIMARY KEY (kind, lang)
);
COMMENT ON TABLE notice_templates IS
	'texts of the customer notices per kind and language: {placeholders}, [[optional parts]]';

CREATE FUNCTION gw_notice_placeholders(p_kind text) RETURNS text[]
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog
AS $$
	SELECT ARRAY['account', 'day'] || CASE p_kind
		WHEN 'daily' THEN ARRAY['kwh', 'usual_kwh', 'usual_days', 'change', 'change_kwh',
					'mtd_kwh', 'month', 'bill', 'bill_through', 'meters']
		WHEN 'unusual' THEN ARRAY['kwh', 'usual_kwh', 'usual_days', 'ratio', 'threshold',
					  'change', 'change_kwh', 'mtd_kwh', 'month']
		WHEN 'outage' THEN ARRAY['meter', 'start', 'end', 'duration', 'minutes']
		WHEN 'correction' THEN ARRAY['kwh', 'previous_kwh', 'change_kwh', 'mtd_kwh', 'month']
		ELSE ARRAY[]::text[] END
$$;

-- What is wrong with a template text of a kind, or NULL.
CREATE FUNCTION gw_notice_template_error(p_kind text, p_text text) RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, public
AS $$
DECLARE
	v_bad text;
	v_open int;
	v_close int;
BEGIN
	SELECT string_agg(DISTINCT m[1], ', ') INTO v_bad
	FROM regexp_matches(p_text, '\{([^{}]*)\}', 'g') m
	WHERE NOT m[1] = ANY (gw_notice_placeholders(p_kind));
	IF v_bad IS NOT NULL THEN
		RETURN format('unknown placeholder(s) {%s}; a %s notice knows {%s}', v_bad, p_kind,
			      array_to_string(gw_notice_placeholders(p_kind), '}, {'));
	END IF;
	IF regexp_replace(p_text, '\{[a-z_]*\}', '', 'g') ~ '[{}]' THEN
		RETURN 'a { or } that is not part of a {placeholder}';
	END IF;
	-- [[ ... ]] parts: not nested, each closed, no [ or ] inside
	v_open := (length(p_text) - length(replace(p_text, '[[', ''))) / 2;
	v_close := (length(p_text) - length(replace(p_text, ']]', ''))) / 2;
	IF v_open <> v_close OR regexp_replace(p_text, '\[\[[^][]*\]\]', '', 'g') ~ '[][]' THEN
		RETURN 'an optional part must be [[ ... ]], closed, not nested, without [ or ] inside';
	END IF;
	RETURN NULL;
END
$$;

CREATE FUNCTION gw_notice_templates_check() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
DECLARE
	v_err text;
BEGIN
	v_err := coalesce(gw_notice_template_error(NEW.kind, NEW.subject),
			  gw_notice_template_error(NEW.kind, NEW.body));
	IF v_err IS NOT NULL THEN
		RAISE EXCEPTION 'notice template %/%: %', NEW.kind, NEW.lang, v_err
			USING ERRCODE = 'check_violation', CONSTRAINT = 'notice_templates_placeholders';
	END IF;
	NEW.updated_at := now();
	NEW.updated_by := session_user;
	RETURN NEW;
END
$$;
CREATE TRIGGER notice_templates_check BEFORE INSERT OR UPDATE ON notice_templates
	FOR EACH ROW EXECUTE FUNCTION gw_notice_templates_check();

INSERT INTO notice_templates (kind, lang, subject, body) VALUES
('daily', 'vi', 'Điện năng tiêu thụ ngày {day}',
 'Ngày {day} quý khách đã dùng {kwh} kWh[[ ({change} so với mức thường ngày {usual_kwh} kWh)]]. '
 'Từ đầu tháng {month}: {mtd_kwh} kWh[[, tiền điện tạm tính {bill}]].'),
('daily', 'en', 'Your electricity use on {day}',
 'On {day} you used {kwh} kWh[[ ({change} against your usual day of {usual_kwh} kWh)]]. '
 'Month to date ({month}): {mtd_kwh} kWh[[, estimated bill {bill}]].'),
('unusual', 'vi', 'Cảnh báo: điện năng tiêu thụ bất thường ngày {day}',
 'Ngày {day} quý khách đã dùng {kwh} kWh[[, gấp {ratio} lần]] mức thường ngày ({usual_kwh} kWh). '
 'Xin kiểm tra các thiết bị điện trong nhà.'),
('unusual', 'en', 'Unusual electricity use on {day}',
 'On {day} you used {kwh} kWh[[, {ratio} times]] your usual day ({usual_kwh} kWh). '
 'You may want to check your appliances.'),
('outage', 'vi', 'Mất điện ngày {day}',
 'Công tơ {meter} bị mất điện từ {start} đến {end} ({duration}).'),
('outage', 'en', 'Power outage on {day}',
 'The power at meter {meter} was out from {start} to {end} ({duration}).'),
('correction', 'vi', 'Cập nhật số liệu điện năng ngày {day}',
 'Số liệu ngày {day} đã được cập nhật: {kwh} kWh (trước đây {previous_kwh} kWh).'),
('correction', 'en', 'Updated figures for {day}',
 'Your use on {day} has been updated: {kwh} kWh (previously {previous_kwh} kWh).');

-- ---------------------------------------------------------------------
-- Numbers as a reader of the language expects them: en 1,234.567,
-- vi 1.234,567. Exact (numeric), rounded half away from zero. These
-- functions are STABLE as to_char is, and without SET, so that the
-- planner inlines them into the notices' INSERT (IMMUTABLE around a
-- STABLE call, or a SET, would make each a function call of its own:
-- 4 ms a notice instead of a few microseconds).
CREATE FUNCTION gw_notice_number(p numeric, p_decimals int, p_lang text) RETURNS text
LANGUAGE sql STABLE
AS $$
	SELECT translate(pg_catalog.to_char(pg_catalog.round(p, p_decimals),
			 'FM999,999,999,999,999,990' || CASE WHEN p_decimals > 0
			 THEN '.' || pg_catalog.repeat('0', p_decimals) ELSE '' END),
			 CASE WHEN p_lang = 'vi' THEN ',.' ELSE '' END,
			 CASE WHEN p_lang = 'vi' THEN '.,' ELSE '' END)
$$;

-- Wh as kWh with three decimals.
CREATE FUNCTION gw_notice_kwh(p_wh numeric, p_lang text) RETURNS text
LANGUAGE sql STABLE
AS $$ SELECT public.gw_notice_number(p_wh / 1000, 3, p_lang) $$;

-- A signed number ("+12", "-0,5").
CREATE FUNCTION gw_notice_signed(p text) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$ SELECT CASE WHEN p IS NULL THEN NULL WHEN p ~ '^-' THEN p
		  WHEN p ~ '^[0.,]*$' THEN p ELSE '+' || p END $$;

-- A local timestamp ('YYYY-MM-DD HH24:MI:SS') as a reader expects it.
CREATE FUNCTION gw_notice_time(p timestamp, p_lang text) RETURNS text
LANGUAGE sql STABLE
AS $$ SELECT CASE WHEN p_lang = 'vi' THEN pg_catalog.to_char(p, 'HH24:MI "ngày" DD/MM/YYYY')
		  ELSE pg_catalog.to_char(p, 'HH24:MI "on" FMDD Mon YYYY') END $$;

-- The values of a notice's placeholders in a language, from its figures.
CREATE FUNCTION gw_notice_values(f jsonb, p_lang text) RETURNS jsonb
LANGUAGE sql STABLE
AS $$
	SELECT jsonb_strip_nulls(jsonb_build_object(
		'account', f->>'account',
		'day', CASE WHEN p_lang = 'vi' THEN to_char((f->>'day')::date, 'DD/MM/YYYY')
			    ELSE to_char((f->>'day')::date, 'FMDD Mon YYYY') END,
		'kwh', public.gw_notice_kwh((f->>'wh')::numeric, p_lang),
		'usual_kwh', public.gw_notice_kwh((f->>'usual_wh')::numeric, p_lang),
		'usual_days', f->>'usual_days',
		'change', CASE WHEN (f->>'usual_wh')::numeric > 0 THEN public.gw_notice_signed(public.gw_notice_number(
				((f->>'wh')::numeric - (f->>'usual_wh')::numeric) * 100
				/ (f->>'usual_wh')::numeric, 0, p_lang)) || '%' END,
		'change_kwh', public.gw_notice_signed(public.gw_notice_kwh(
				(f->>'wh')::numeric - coalesce((f->>'usual_wh')::numeric, (f->>'previous_wh')::numeric),
				p_lang)),
		'ratio', CASE WHEN (f->>'usual_wh')::numeric > 0 THEN public.gw_notice_number(
				(f->>'wh')::numeric / (f->>'usual_wh')::numeric, 1, p_lang) END,
		'threshold', public.gw_notice_number((f->>'unusual_ratio')::numeric, 1, p_lang),
		'mtd_kwh', public.gw_notice_kwh((f->>'mtd_wh')::numeric, p_lang),
		'month', CASE WHEN p_lang = 'vi' THEN to_char((f->>'month')::date, 'MM/YYYY')
			      ELSE to_char((f->>'month')::date, 'FMMonth YYYY') END,
		'bill', CASE WHEN f->>'bill_total' IS NULL THEN NULL
			     WHEN f->>'bill_currency' = 'VND' AND p_lang = 'vi'
			     THEN public.gw_notice_number((f->>'bill_total')::numeric, 0, p_lang) || ' đ'
			     WHEN f->>'bill_currency' = 'VND'
			     THEN public.gw_notice_number((f->>'bill_total')::numeric, 0, p_lang) || ' VND'
			     ELSE public.gw_notice_number((f->>'bill_total')::numeric, 2, p_lang) || ' '
				  || coalesce(f->>'bill_currency', '') END,
		'bill_through', CASE WHEN p_lang = 'vi' THEN to_char((f->>'bill_through')::date, 'DD/MM/YYYY')
				     ELSE to_char((f->>'bill_through')::date, 'FMDD Mon YYYY') END,
		'meters', f->>'meters',
		'meter', f->>'meter',
		'start', public.gw_notice_time((f->>'start_local')::timestamp, p_lang),
		'end', CASE WHEN (f->>'end_local')::date = (f->>'start_local')::date
			    THEN to_char((f->>'end_local')::timestamp, 'HH24:MI')
			    ELSE public.gw_notice_time((f->>'end_local')::timestamp, p_lang) END,
		'minutes', f->>'minutes',
		'duration', CASE WHEN f->>'minutes' IS NULL THEN NULL
				 WHEN (f->>'minutes')::int < 60 AND p_lang = 'vi' THEN (f->>'minutes') || ' phút'
				 WHEN (f->>'minutes')::int < 60 THEN (f->>'minutes') || ' min'
				 WHEN p_lang = 'vi' THEN ((f->>'minutes')::int / 60) || ' giờ '
							 || ((f->>'minutes')::int % 60) || ' phút'
				 ELSE ((f->>'minutes')::int / 60) || ' h ' || ((f->>'minutes')::int % 60) || ' min' END,
		'previous_kwh', public.gw_notice_kwh((f->>'previous_wh')::numeric, p_lang)))
$$;

-- A template with its values: each {name} replaced; a [[ ... ]] part
-- with a value that is not known left out. One expression (inlined; v
-- is read 20 times, so a caller passes a column, not an expression: the
-- makers compute the values in a subquery with OFFSET 0, once a row).
CREATE FUNCTION gw_notice_render(t text, v jsonb) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
	SELECT replace(replace(replace(regexp_replace(
	  replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(
	  replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(t,
	    '{account}', coalesce(v->>'account', E'\x01')),
	    '{day}', coalesce(v->>'day', E'\x01')),
	    '{kwh}', coalesce(v->>'kwh', E'\x01')),
	    '{usual_kwh}', coalesce(v->>'usual_kwh', E'\x01')),
	    '{usual_days}', coalesce(v->>'usual_days', E'\x01')),
	    '{change}', coalesce(v->>'change', E'\x01')),
	    '{change_kwh}', coalesce(v->>'change_kwh', E'\x01')),
	    '{ratio}', coalesce(v->>'ratio', E'\x01')),
	    '{threshold}', coalesce(v->>'threshold', E'\x01')),
	    '{mtd_kwh}', coalesce(v->>'mtd_kwh', E'\x01')),
	    '{month}', coalesce(v->>'month', E'\x01')),
	    '{bill}', coalesce(v->>'bill', E'\x01')),
	    '{bill_through}', coalesce(v->>'bill_through', E'\x01')),
	    '{meters}', coalesce(v->>'meters', E'\x01')),
	    '{meter}', coalesce(v->>'meter', E'\x01')),
	    '{start}', coalesce(v->>'start', E'\x01')),
	    '{end}', coalesce(v->>'end', E'\x01')),
	    '{duration}', coalesce(v->>'duration', E'\x01')),
	    '{minutes}', coalesce(v->>'minutes', E'\x01')),
	    '{previous_kwh}', coalesce(v->>'previous_kwh', E'\x01')),
	    '\[\[[^][]*\x01[^][]*\]\]', '', 'g'),
	  '[[', ''), ']]', ''), E'\x01', '')
$$;

-- ---------------------------------------------------------------------
-- The notices.
CREATE TABLE customer_notices (
	notice_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	customer_account text NOT NULL,
	day              date NOT NULL,        -- the local day it is about
	kind             text NOT NULL CHECK (kind IN ('daily', 'unusual', 'outage', 'correction')),
	-- what makes it one of several of its kind on the day: '' (daily,
	-- unusual), 'METER START' (outage), the correction's number
	ref              text NOT NULL DEFAULT '',
	figures          jsonb NOT NULL,       -- the numbers, exact (Wh), as written
	subject_vi       text NOT NULL,
	body_vi          text NOT NULL,
	subject_en       text NOT NULL,
	body_en          text NOT NULL,
	created_at       timestamptz NOT NULL DEFAULT now(),
	UNIQUE (customer_account, day, kind, ref)
);
CREATE INDEX customer_notices_account_idx ON customer_notices (customer_account, notice_id);
CREATE INDEX customer_notices_day_idx ON customer_notices (day, kind);
COMMENT ON TABLE customer_notices IS
	'notices to customers (daily, unusual, outage, correction), texts in vi and en; made by gw_notices_make()';

-- The channels a notice is delivered on. A channel not enabled gets no
-- delivery rows for notices made while it is off.
CREATE TABLE notice_channels (
	channel text PRIMARY KEY CHECK (channel IN ('app', 'zalo', 'email')),
	enabled boolean NOT NULL DEFAULT true
);
INSERT INTO notice_channels (channel) VALUES ('app'), ('zalo'), ('email');

CREATE TABLE notice_deliveries (
	-- a notice's (no foreign key: the trigger below makes the rows from
	-- the notices just inserted, and one at delete removes them; an RI
	-- check per row cost 0.1 ms, 30 s of a run of 100,000 accounts)
	notice_id    bigint NOT NULL,
	channel      text NOT NULL CHECK (channel IN ('app', 'zalo', 'email')),
	state        text NOT NULL DEFAULT 'pending'
	             CHECK (state IN ('pending', 'claimed', 'sent', 'failed')),
	not_before   timestamptz NOT NULL DEFAULT '-infinity', -- a failed try's retry time
	claimed_by   text,          -- the sender id of the latest claim
	claimed_role name,          -- and its login role
	lease_until  timestamptz,   -- the claim is the holder's until then
	attempts     int NOT NULL DEFAULT 0,  -- claims so far
	sent_at      timestamptz,
	last_error   text,
	PRIMARY KEY (notice_id, channel),
	CHECK ((state = 'claimed') = (lease_until IS NOT NULL))
);
-- What a claim looks at: the open deliveries of a channel, oldest first.
CREATE INDEX notice_deliveries_open_idx ON notice_deliveries (channel, notice_id)
	WHERE state IN ('pending', 'claimed');
COMMENT ON TABLE notice_deliveries IS
	'one row per notice and channel: pending, claimed (by a sender, until lease_until), sent, failed';

CREATE FUNCTION gw_notice_deliveries_add() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
BEGIN
	INSERT INTO notice_deliveries (notice_id, channel)
	SELECT n.notice_id, c.channel
	FROM new_notices n CROSS JOIN notice_channels c
	WHERE c.enabled
	ORDER BY n.notice_id, c.channel;
	RETURN NULL;
END
$$;
CREATE TRIGGER customer_notices_deliveries AFTER INSERT ON customer_notices
	REFERENCING NEW TABLE AS new_notices
	FOR EACH STATEMENT EXECUTE FUNCTION gw_notice_deliveries_add();

CREATE FUNCTION gw_notice_deliveries_remove() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
BEGIN
	DELETE FROM notice_deliveries d USING old_notices o WHERE d.notice_id = o.notice_id;
	RETURN NULL;
END
$$;
CREATE TRIGGER customer_notices_deliveries_del AFTER DELETE ON customer_notices
	REFERENCING OLD TABLE AS old_notices
	FOR EACH STATEMENT EXECUTE FUNCTION gw_notice_deliveries_remove();
CREATE FUNCTION gw_notice_deliveries_truncate() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
BEGIN
	TRUNCATE notice_deliveries;
	RETURN NULL;
END
$$;
CREATE TRIGGER customer_notices_deliveries_trunc AFTER TRUNCATE ON customer_notices
	FOR EACH STATEMENT EXECUTE FUNCTION gw_notice_deliveries_truncate();

-- Outages by time, for the notices of a day (a partial index: few rows).
CREATE INDEX meter_events_outage_ts_idx ON meter_events (ts) WHERE kind = 'power_outage';

-- ---------------------------------------------------------------------
-- The month-to-date bill of the accounts in pg_temp.gw_nt (acct, mtd_wh,
-- new_daily) through p_day, set-based: 010's gw_bill_lines and
-- gw_bill_estimate for every account at once, the same expressions, for
-- the accounts whose tariff splits a month by days ('days': the bill is a
-- function of the month's energy to date). Sets gw_nt.tariff of each;
-- returns (acct, total, currency) of those it prices. The tier limits of
-- each sub-period are the tariff's, not the account's: computed once.
-- tests/integration/notices.sh checks every total against
-- gw_bill_estimate(), across a price change within the month too.
CREATE FUNCTION gw_notice_bills(p_day date)
RETURNS TABLE (acct text, total numeric, currency text)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
#variable_conflict use_column
DECLARE
	v_ps date := date_trunc('month', p_day::timestamp)::date;
	v_pe date := (date_trunc('month', p_day::timestamp) + interval '1 month')::date - 1;
BEGIN
	UPDATE pg_temp.gw_nt n
	SET tariff = coalesce(x.tariff, (SELECT d.tariff FROM tariffs d WHERE d.is_default))
	FROM pg_temp.gw_nt m
	LEFT JOIN (SELECT DISTINCT ON (x.customer_account) x.customer_account, x.tariff
		   FROM account_tariffs x WHERE x.valid_from <= p_day
		   ORDER BY x.customer_account, x.valid_from DESC) x ON x.customer_account = m.acct
	WHERE m.acct = n.acct AND n.new_daily;
	RETURN QUERY
	WITH t AS (
		SELECT f.tariff, f.currency, f.amount_decimals, f.share_round_wh::numeric AS u
		FROM tariffs f WHERE f.split = 'days'
	),
	s AS (
		SELECT t.*, l.valid_from AS price_list,
		       greatest(l.valid_from, v_ps) AS s_from,
		       least(coalesce(l.next_from - 1, v_pe), v_pe) AS s_to
		FROM t, LATERAL (
			SELECT v.valid_from, lead(v.valid_from) OVER (ORDER BY v.valid_from) AS next_from
			FROM tariff_prices v WHERE v.tariff = t.tariff) l
		WHERE l.valid_from <= v_pe AND (l.next_from IS NULL OR l.next_from > v_ps)
	),
	e AS (
		SELECT s.*, (v_pe - v_ps + 1)::numeric AS dm,
		       (s.s_from - v_ps)::numeric AS c0, (s.s_to - v_ps + 1)::numeric AS c1
		FROM s
	),
	k AS (
		SELECT e.*, g.tier, g.price,
		       (CASE WHEN e.c1 = e.dm THEN g.lim ELSE round(g.lim * e.c1 / e.dm / e.u) * e.u END)
		     - (CASE WHEN e.c0 = e.dm THEN g.lim ELSE round(g.lim * e.c0 / e.dm / e.u) * e.u END) AS upto,
		       (CASE WHEN e.c1 = e.dm THEN g.prev ELSE round(g.prev * e.c1 / e.dm / e.u) * e.u END)
		     - (CASE WHEN e.c0 = e.dm THEN g.prev ELSE round(g.prev * e.c0 / e.dm / e.u) * e.u END) AS low
		FROM e
		JOIN (SELECT r.tariff, r.valid_from, r.tier, r.price, r.upto_kwh::numeric * 1000 AS lim,
			     coalesce(lag(r.upto_kwh) OVER (PARTITION BY r.tariff, r.valid_from ORDER BY r.tier), 0)::numeric * 1000 AS prev
		      FROM tariff_tiers r) g
		  ON g.tariff = e.tariff AND g.valid_from = e.price_list
	),
	-- each account's energy of each sub-period, then of each tier
	w AS (
		SELECT n.acct, k.*,
		       (CASE WHEN k.c1 = k.dm THEN n.mtd_wh ELSE round(n.mtd_wh * k.c1 / k.dm / k.u) * k.u END)
		     - (CASE WHEN k.c0 = k.dm THEN n.mtd_wh ELSE round(n.mtd_wh * k.c0 / k.dm / k.u) * k.u END) AS s_wh
		FROM pg_temp.gw_nt n JOIN k ON k.tariff = n.tariff
		WHERE n.new_daily
	),
	b AS (
		SELECT w.acct, w.tariff, w.currency, w.amount_decimals,
		       sum(round(greatest(0, least(w.s_wh, coalesce(w.upto, w.s_wh)) - w.low) * w.price / 1000,
				 w.amount_decimals)) AS amount
		FROM w GROUP BY w.acct, w.tariff, w.currency, w.amount_decimals
	)
	SELECT b.acct, b.amount + round(b.amount * v.rate, b.amount_decimals), b.currency
	FROM b
	LEFT JOIN LATERAL (SELECT x.rate FROM tariff_vat x
			   WHERE x.tariff = b.tariff AND x.valid_from <= v_pe
			   ORDER BY x.valid_from DESC LIMIT 1) v ON true;
END
$$;

-- ---------------------------------------------------------------------
-- Making the notices of one day. Accounts: those holding a meter on the
-- day (meter_accounts) that had reported a first day by then
-- (meters.first_day); an account's day is loaded when each of those
-- meters has its meter_days row of the day. See docs/notices.md.
CREATE FUNCTION gw_notices_make(p_day date)
RETURNS TABLE (day date, accounts_loaded int, accounts_waiting int,
	       daily int, unusual int, correction int, outage int)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
#variable_conflict use_column
DECLARE
	s notice_settings;
	v_month date := date_trunc('month', p_day)::date;
	v_missing text;
	v_loaded int;
	v_waiting int;
	v_daily int;
	v_unusual int;
	v_corr int;
	v_outage int;
BEGIN
	IF p_day IS NULL THEN
		RAISE EXCEPTION 'gw_notices_make: the day is NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT * INTO STRICT s FROM notice_settings;
	SELECT string_agg(k || '/' || l, ', ') INTO v_missing
	FROM unnest(ARRAY['daily', 'unusual', 'outage', 'correction']) k
	CROSS JOIN unnest(ARRAY['vi', 'en']) l
	WHERE NOT EXISTS (SELECT FROM notice_templates t WHERE t.kind = k AND t.lang = l);
	IF v_missing IS NOT NULL THEN
		RAISE EXCEPTION 'gw_notices_make: no notice template for %', v_missing
			USING ERRCODE = 'no_data_found', HINT = 'INSERT INTO notice_templates (kind, lang, subject, body) ...';
	END IF;
	-- One maker of a day at a time (a timer and an operator's run).
	PERFORM pg_advisory_xact_lock(1011, p_day - date '2000-01-01');

	-- The accounts of the day: their meters, the day's Wh, the usual
	-- day, month to date.
	IF to_regclass('pg_temp.gw_nt') IS NOT NULL THEN
		DROP TABLE pg_temp.gw_nt;
	END IF;
	CREATE TEMP TABLE gw_nt ON COMMIT DROP AS
	WITH held AS (
		SELECT a.customer_account AS acct, a.meter_id
		FROM meter_accounts a JOIN meters m ON m.meter_id = a.meter_id
		WHERE a.valid_from <= p_day AND (a.valid_to IS NULL OR a.valid_to > p_day)
		  AND m.first_day <= p_day),
	today AS (
		SELECT h.acct, count(*)::int AS meters, count(d.meter_id)::int AS have,
		       sum(d.import_wh) AS wh,
		       (ARRAY['measured', 'interpolated', 'estimated', 'incomplete'])[
			   max(array_position(ARRAY['measured', 'interpolated', 'estimated', 'incomplete'],
					      d.quality::text))] AS quality
		FROM held h LEFT JOIN meter_days d ON d.meter_id = h.meter_id AND d.day = p_day
		GROUP BY h.acct),
	-- all accounts' days of the window, one hash join over the day
	-- range of meter_days (restricted to the loaded accounts, the
	-- planner misjudged their number and read meter_days account by
	-- account: 1.6 x the time)
	hist AS (
		SELECT a.customer_account AS acct, d.day, sum(d.import_wh) AS wh
		FROM meter_accounts a
		JOIN meter_days d ON d.meter_id = a.meter_id
		     AND d.day >= a.valid_from AND (a.valid_to IS NULL OR d.day < a.valid_to)
		WHERE d.day >= least(p_day - s.usual_days, v_month) AND d.day < p_day
		  AND d.import_wh IS NOT NULL
		GROUP BY 1, 2),
	stats AS (
		SELECT h.acct,
		       percentile_cont(0.5) WITHIN GROUP (ORDER BY h.wh)
			   FILTER (WHERE h.day >= p_day - s.usual_days) AS usual_wh,
		       count(*) FILTER (WHERE h.day >= p_day - s.usual_days)::int AS usual_n,
		       sum(h.wh) FILTER (WHERE h.day >= v_month) AS mtd_before
		FROM hist h GROUP BY h.acct)
	SELECT t.acct, t.meters, t.have, t.wh, t.quality,
	       st.usual_wh::numeric AS usual_wh, coalesce(st.usual_n, 0) AS usual_n,
	       t.wh + coalesce(st.mtd_before, 0) AS mtd_wh,
	       NOT EXISTS (SELECT FROM customer_notices c
			   WHERE c.customer_account = t.acct AND c.day = p_day
			     AND c.kind = 'daily' AND c.ref = '') AS new_daily,
	       NULL::numeric AS bill_total, NULL::text AS bill_currency, NULL::date AS bill_through,
	       false AS bill_days, NULL::text AS tariff
	FROM today t LEFT JOIN stats st ON st.acct = t.acct;

	SELECT count(*) FILTER (WHERE have = meters), count(*) FILTER (WHERE have < meters)
	INTO v_loaded, v_waiting FROM pg_temp.gw_nt;
	DELETE FROM pg_temp.gw_nt WHERE have < meters OR wh IS NULL;
	ANALYZE pg_temp.gw_nt;

	-- The month-to-date bill of each account that gets its daily notice
	-- now: 010's gw_bill_estimate(account, day), in a set-based form
	-- (gw_notice_bills; one call per account costs 1.6 ms, nearly three
	-- minutes for 100,000 accounts). It gives gw_bill_estimate's total
	-- for tariffs that split a month at a price change by days, the
	-- default; accounts on an 'actual' tariff get the function itself.
	-- Looked up by name: 011 does not need 010 to be applied first.
	IF to_regprocedure('public.gw_bill_estimate(text,date)') IS NOT NULL THEN
		IF to_regclass('pg_temp.gw_nb') IS NOT NULL THEN
			DROP TABLE pg_temp.gw_nb;
		END IF;
		CREATE TEMP TABLE gw_nb ON COMMIT DROP AS SELECT * FROM gw_notice_bills(p_day);
		UPDATE pg_temp.gw_nt n SET bill_total = b.total, bill_currency = b.currency,
					   bill_through = p_day, bill_days = true
		FROM pg_temp.gw_nb b
		WHERE b.acct = n.acct AND n.new_daily;
		DROP TABLE pg_temp.gw_nb;
		IF EXISTS (SELECT FROM tariffs f WHERE f.split = 'actual') THEN
			EXECUTE 'UPDATE pg_temp.gw_nt n SET (bill_total, bill_currency, bill_through) ='
				' (SELECT b.total, b.currency, b.through FROM public.gw_bill_estimate(n.acct, $1) b LIMIT 1)'
				' WHERE n.new_daily AND NOT n.bill_days'
				'  AND n.tariff IN (SELECT f.tariff FROM public.tariffs f WHERE f.split = ''actual'')'
				USING p_day;
		END IF;
	END IF;

	-- daily and unusual
	WITH f AS MATERIALIZED (
		SELECT n.acct, k.kind,
		       jsonb_strip_nulls(jsonb_build_object(
			   'account', n.acct, 'day', p_day, 'wh', n.wh,
			   'usual_wh', CASE WHEN n.usual_n >= s.usual_min_days THEN n.usual_wh END,
			   'usual_days', n.usual_n, 'mtd_wh', n.mtd_wh, 'month', v_month,
			   'quality', n.quality, 'meters', n.meters,
			   'unusual_ratio', CASE WHEN k.kind = 'unusual' THEN s.unusual_ratio END,
			   'unusual_min_wh', CASE WHEN k.kind = 'unusual' THEN s.unusual_min_wh END,
			   'bill_total', CASE WHEN k.kind = 'daily' THEN n.bill_total END,
			   'bill_currency', CASE WHEN k.kind = 'daily' THEN n.bill_currency END,
			   'bill_through', CASE WHEN k.kind = 'daily' THEN n.bill_through END)) AS fig
		FROM pg_temp.gw_nt n
		CROSS JOIN LATERAL (VALUES ('daily'), ('unusual')) k(kind)
		WHERE n.new_daily
		  AND (k.kind = 'daily'
		       OR (n.usual_n >= s.usual_min_days
			   AND n.wh > s.unusual_ratio * n.usual_wh
			   AND n.wh - n.usual_wh >= s.unusual_min_wh))),
	ins AS (
		INSERT INTO customer_notices AS c (customer_account, day, kind, ref, figures,
						  subject_vi, body_vi, subject_en, body_en)
		SELECT f.acct, p_day, f.kind, '', f.fig,
		       gw_notice_render(tv.subject, v.vi), gw_notice_render(tv.body, v.vi),
		       gw_notice_render(te.subject, v.en), gw_notice_render(te.body, v.en)
		FROM f
		CROSS JOIN LATERAL (SELECT gw_notice_values(f.fig, 'vi') AS vi,
					   gw_notice_values(f.fig, 'en') AS en OFFSET 0) v
		JOIN notice_templates tv ON tv.kind = f.kind AND tv.lang = 'vi'
		JOIN notice_templates te ON te.kind = f.kind AND te.lang = 'en'
		ORDER BY f.acct, f.kind
		ON CONFLICT (customer_account, day, kind, ref) DO NOTHING
		RETURNING c.kind)
	SELECT count(*) FILTER (WHERE ins.kind = 'daily'), count(*) FILTER (WHERE ins.kind = 'unusual')
	INTO v_daily, v_unusual FROM ins;

	-- corrections: the day's Wh against the latest notice that stated it
	WITH prev AS (
		SELECT n.acct, n.wh, n.mtd_wh, p.wh AS prev_wh, p.corrections
		FROM pg_temp.gw_nt n
		CROSS JOIN LATERAL (
			SELECT (c.figures->>'wh')::bigint AS wh,
			       count(*) OVER () - 1 AS corrections
			FROM customer_notices c
			WHERE c.customer_account = n.acct AND c.day = p_day
			  AND c.kind IN ('daily', 'correction')
			ORDER BY c.notice_id DESC LIMIT 1) p
		WHERE NOT n.new_daily AND abs(n.wh - p.wh) >= s.correction_min_wh),
	f AS MATERIALIZED (
		SELECT prev.acct, (prev.corrections + 1)::text AS ref,
		       jsonb_build_object('account', prev.acct, 'day', p_day, 'wh', prev.wh,
					  'previous_wh', prev.prev_wh, 'mtd_wh', prev.mtd_wh,
					  'month', v_month) AS fig
		FROM prev),
	ins AS (
		INSERT INTO customer_notices AS c (customer_account, day, kind, ref, figures,
						  subject_vi, body_vi, subject_en, body_en)
		SELECT f.acct, p_day, 'correction', f.ref, f.fig,
		       gw_notice_render(tv.subject, v.vi), gw_notice_render(tv.body, v.vi),
		       gw_notice_render(te.subject, v.en), gw_notice_render(te.body, v.en)
		FROM f
		CROSS JOIN LATERAL (SELECT gw_notice_values(f.fig, 'vi') AS vi,
					   gw_notice_values(f.fig, 'en') AS en OFFSET 0) v
		JOIN notice_templates tv ON tv.kind = 'correction' AND tv.lang = 'vi'
		JOIN notice_templates te ON te.kind = 'correction' AND te.lang = 'en'
		ORDER BY f.acct
		ON CONFLICT (customer_account, day, kind, ref) DO NOTHING
		RETURNING 1)
	SELECT count(*) INTO v_corr FROM ins;

	-- outages that began on the day (the meter's gateway's local day)
	-- and have ended: the meter's next online event is loaded
	WITH o AS (
		SELECT DISTINCT a.customer_account AS acct, e.meter_id, e.ts AS start, x.ended, z.tz
		FROM meter_events e
		JOIN meters m ON m.meter_id = e.meter_id
		LEFT JOIN gateways g ON g.gateway_id = m.gateway_id
		CROSS JOIN LATERAL (SELECT coalesce(g.timezone, s.timezone) AS tz) z
		JOIN meter_accounts a ON a.meter_id = e.meter_id
		     AND a.valid_from <= p_day AND (a.valid_to IS NULL OR a.valid_to > p_day)
		CROSS JOIN LATERAL (SELECT min(n.ts) AS ended FROM meter_events n
				    WHERE n.meter_id = e.meter_id AND n.kind = 'online' AND n.ts > e.ts) x
		WHERE e.kind = 'power_outage'
		  AND e.ts >= p_day::timestamp AT TIME ZONE 'UTC' - interval '15 hours'
		  AND e.ts < (p_day + 1)::timestamp AT TIME ZONE 'UTC' + interval '13 hours'
		  AND (e.ts AT TIME ZONE z.tz)::date = p_day
		  AND x.ended IS NOT NULL
		  AND x.ended - e.ts >= make_interval(mins => s.outage_min_minutes)),
	f AS MATERIALIZED (
		SELECT o.acct, o.meter_id || ' ' || to_char(o.start AT TIME ZONE 'UTC',
							     'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS ref,
		       jsonb_build_object('account', o.acct, 'day', p_day, 'meter', o.meter_id,
			   'start', to_char(o.start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
			   'end', to_char(o.ended AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
			   'start_local', o.start AT TIME ZONE o.tz, 'end_local', o.ended AT TIME ZONE o.tz,
			   'timezone', o.tz,
			   'minutes', floor(extract(epoch FROM o.ended - o.start) / 60)::bigint) AS fig
		FROM o),
	ins AS (
		INSERT INTO customer_notices AS c (customer_account, day, kind, ref, figures,
						  subject_vi, body_vi, subject_en, body_en)
		SELECT f.acct, p_day, 'outage', f.ref, f.fig,
		       gw_notice_render(tv.subject, v.vi), gw_notice_render(tv.body, v.vi),
		       gw_notice_render(te.subject, v.en), gw_notice_render(te.body, v.en)
		FROM f
		CROSS JOIN LATERAL (SELECT gw_notice_values(f.fig, 'vi') AS vi,
					   gw_notice_values(f.fig, 'en') AS en OFFSET 0) v
		JOIN notice_templates tv ON tv.kind = 'outage' AND tv.lang = 'vi'
		JOIN notice_templates te ON te.kind = 'outage' AND te.lang = 'en'
		ORDER BY f.acct, f.ref
		ON CONFLICT (customer_account, day, kind, ref) DO NOTHING
		RETURNING 1)
	SELECT count(*) INTO v_outage FROM ins;

	DROP TABLE pg_temp.gw_nt;
	RETURN QUERY SELECT p_day, v_loaded, v_waiting, v_daily, v_unusual, v_corr, v_outage;
END
$$;
COMMENT ON FUNCTION gw_notices_make(date) IS
	'writes the notices of one local day for every account whose day is loaded; idempotent';

-- The notices of the last lookback_days days up to p_through (default:
-- yesterday in notice_settings.timezone), oldest first: what the timer runs.
CREATE FUNCTION gw_notices_run(p_through date DEFAULT NULL)
RETURNS TABLE (day date, accounts_loaded int, accounts_waiting int,
	       daily int, unusual int, correction int, outage int)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
DECLARE
	s notice_settings;
	v_last date;
	d date;
BEGIN
	SELECT * INTO STRICT s FROM notice_settings;
	v_last := coalesce(p_through, (now() AT TIME ZONE s.timezone)::date - 1);
	FOR d IN SELECT generate_series(v_last - s.lookback_days + 1, v_last, interval '1 day')::date LOOP
		RETURN QUERY SELECT * FROM gw_notices_make(d);
	END LOOP;
END
$$;

-- ---------------------------------------------------------------------
-- The senders' protocol (docs/notices.md). A sender is a login role in
-- notice_sender and an id of its own choosing, unique per running
-- process (host:pid, say): a claim belongs to the pair.

-- Checks the arguments every function of the protocol takes.
CREATE FUNCTION gw_notice_args(p_channel text, p_sender text) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, public
AS $$
BEGIN
	IF p_channel IS NULL OR p_channel NOT IN ('app', 'zalo', 'email') THEN
		RAISE EXCEPTION 'notice channel %: not app, zalo or email', coalesce(p_channel, 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF p_sender IS NULL OR length(p_sender) NOT BETWEEN 1 AND 200 THEN
		RAISE EXCEPTION 'notice sender id: 1 to 200 characters are needed'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
END
$$;

-- Up to p_n deliveries of the channel that nobody holds (pending and due,
-- or claimed with their lease run out), oldest first, now the caller's
-- until lease_until. Rows other senders are claiming at this moment are
-- skipped, not waited for.
CREATE FUNCTION gw_notice_claim(p_channel text, p_sender text, p_n int, p_lease interval)
RETURNS TABLE (notice_id bigint, channel text, customer_account text, day date, kind text,
	       figures jsonb, subject_vi text, body_vi text, subject_en text, body_en text,
	       attempt int, lease_until timestamptz)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
#variable_conflict use_column
DECLARE
	v_now timestamptz := clock_timestamp();
BEGIN
	PERFORM gw_notice_args(p_channel, p_sender);
	IF p_n IS NULL OR p_n NOT BETWEEN 1 AND 10000 THEN
		RAISE EXCEPTION 'gw_notice_claim: n must be 1 to 10000' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF p_lease IS NULL OR p_lease < interval '1 second' OR p_lease > interval '1 day' THEN
		RAISE EXCEPTION 'gw_notice_claim: the lease must be 1 second to 1 day'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN QUERY
	WITH c AS (
		SELECT d.notice_id
		FROM notice_deliveries d
		WHERE d.channel = p_channel AND d.state IN ('pending', 'claimed')
		  AND CASE WHEN d.state = 'pending' THEN d.not_before <= v_now
			   ELSE d.lease_until <= v_now END
		ORDER BY d.notice_id
		LIMIT p_n
		FOR UPDATE SKIP LOCKED),
	u AS (
		UPDATE notice_deliveries d
		SET state = 'claimed', claimed_by = p_sender, claimed_role = session_user,
		    lease_until = v_now + p_lease, attempts = d.attempts + 1
		FROM c
		WHERE d.notice_id = c.notice_id AND d.channel = p_channel
		RETURNING d.notice_id, d.attempts, d.lease_until)
	SELECT n.notice_id, p_channel, n.customer_account, n.day, n.kind, n.figures,
	       n.subject_vi, n.body_vi, n.subject_en, n.body_en, u.attempts, u.lease_until
	FROM u JOIN customer_notices n ON n.notice_id = u.notice_id
	ORDER BY n.notice_id;
END
$$;

-- The delivery was sent. 'sent': recorded now; 'duplicate': this sender
-- had acknowledged it already (nothing changes); 'refused': the sender
-- does not hold it (never claimed it, or its lease ran out and another
-- sender claimed it since, or it was released or failed).
CREATE FUNCTION gw_notice_ack(p_notice bigint, p_channel text, p_sender text)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
DECLARE
	d notice_deliveries;
BEGIN
	PERFORM gw_notice_args(p_channel, p_sender);
	UPDATE notice_deliveries t
	SET state = 'sent', sent_at = clock_timestamp(), lease_until = NULL, last_error = NULL
	WHERE t.notice_id = p_notice AND t.channel = p_channel AND t.state = 'claimed'
	  AND t.claimed_by = p_sender AND t.claimed_role = session_user;
	IF FOUND THEN
		RETURN 'sent';
	END IF;
	SELECT * INTO d FROM notice_deliveries t WHERE t.notice_id = p_notice AND t.channel = p_channel;
	IF d.state = 'sent' AND d.claimed_by = p_sender AND d.claimed_role = session_user THEN
		RETURN 'duplicate';
	END IF;
	RETURN 'refused';
END
$$;

-- The delivery could not be sent: back to pending, due again after
-- p_retry_in; given up ('failed') after notice_settings.max_attempts
-- claims. Returns 'pending', 'failed' or 'refused' (not held).
CREATE FUNCTION gw_notice_fail(p_notice bigint, p_channel text, p_sender text, p_error text,
			       p_retry_in interval DEFAULT interval '5 minutes')
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
DECLARE
	v_state text;
BEGIN
	PERFORM gw_notice_args(p_channel, p_sender);
	UPDATE notice_deliveries t
	SET state = CASE WHEN t.attempts >= (SELECT max_attempts FROM notice_settings)
			 THEN 'failed' ELSE 'pending' END,
	    not_before = clock_timestamp() + greatest(coalesce(p_retry_in, interval '0'), interval '0'),
	    lease_until = NULL, last_error = left(p_error, 1000)
	WHERE t.notice_id = p_notice AND t.channel = p_channel AND t.state = 'claimed'
	  AND t.claimed_by = p_sender AND t.claimed_role = session_user
	RETURNING t.state INTO v_state;
	RETURN coalesce(v_state, 'refused');
END
$$;

-- The sender gives the delivery back unsent (it is shutting down): due
-- at once, and the claim does not count as an attempt. 'released' or
-- 'refused' (not held).
CREATE FUNCTION gw_notice_release(p_notice bigint, p_channel text, p_sender text)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
BEGIN
	PERFORM gw_notice_args(p_channel, p_sender);
	UPDATE notice_deliveries t
	SET state = 'pending', not_before = '-infinity', lease_until = NULL,
	    attempts = greatest(t.attempts - 1, 0)
	WHERE t.notice_id = p_notice AND t.channel = p_channel AND t.state = 'claimed'
	  AND t.claimed_by = p_sender AND t.claimed_role = session_user;
	RETURN CASE WHEN FOUND THEN 'released' ELSE 'refused' END;
END
$$;

-- ---------------------------------------------------------------------
-- Roles, ownership, row-level security.
DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'notice_sender') THEN
		CREATE ROLE notice_sender NOLOGIN;
	END IF;
	EXECUTE format('GRANT CONNECT ON DATABASE %I TO notice_sender', current_database());
END
$$;
GRANT USAGE ON SCHEMA public TO notice_sender;

ALTER TABLE notice_settings OWNER TO gw_owner;
ALTER TABLE notice_templates OWNER TO gw_owner;
ALTER TABLE customer_notices OWNER TO gw_owner;
ALTER TABLE notice_channels OWNER TO gw_owner;
ALTER TABLE notice_deliveries OWNER TO gw_owner;
ALTER FUNCTION gw_notice_placeholders(text) OWNER TO gw_owner;
ALTER FUNCTION gw_notice_template_error(text, text) OWNER TO gw_owner;
ALTER FUNCTION gw_notice_templates_check() OWNER TO gw_owner;
ALTER FUNCTION gw_notice_number(numeric, int, text) OWNER TO gw_owner;
ALTER FUNCTION gw_notice_kwh(numeric, text) OWNER TO gw_owner;
ALTER FUNCTION gw_notice_signed(text) OWNER TO gw_owner;
ALTER FUNCTION gw_notice_time(timestamp, text) OWNER TO gw_owner;
ALTER FUNCTION gw_notice_values(jsonb, text) OWNER TO gw_owner;
ALTER FUNCTION gw_notice_render(text, jsonb) OWNER TO gw_owner;
ALTER FUNCTION gw_notice_deliveries_add() OWNER TO gw_owner;
ALTER FUNCTION gw_notice_deliveries_remove() OWNER TO gw_owner;
ALTER FUNCTION gw_notice_deliveries_truncate() OWNER TO gw_owner;
ALTER FUNCTION gw_notice_bills(date) OWNER TO gw_owner;
ALTER FUNCTION gw_notices_make(date) OWNER TO gw_owner;
ALTER FUNCTION gw_notices_run(date) OWNER TO gw_owner;
ALTER FUNCTION gw_notice_args(text, text) OWNER TO gw_owner;
ALTER FUNCTION gw_notice_claim(text, text, int, interval) OWNER TO gw_owner;
ALTER FUNCTION gw_notice_ack(bigint, text, text) OWNER TO gw_owner;
ALTER FUNCTION gw_notice_fail(bigint, text, text, text, interval) OWNER TO gw_owner;
ALTER FUNCTION gw_notice_release(bigint, text, text) OWNER TO gw_owner;

REVOKE ALL ON notice_settings, notice_templates, customer_notices, notice_channels,
	notice_deliveries FROM PUBLIC;
REVOKE ALL ON FUNCTION gw_notice_placeholders(text), gw_notice_template_error(text, text),
	gw_notice_templates_check(), gw_notice_number(numeric, int, text), gw_notice_kwh(numeric, text),
	gw_notice_signed(text), gw_notice_time(timestamp, text), gw_notice_values(jsonb, text),
	gw_notice_render(text, jsonb), gw_notice_deliveries_add(), gw_notice_deliveries_remove(),
	gw_notice_deliveries_truncate(), gw_notice_bills(date), gw_notices_make(date),
	gw_notices_run(date), gw_notice_args(text, text), gw_notice_claim(text, text, int, interval),
	gw_notice_ack(bigint, text, text), gw_notice_fail(bigint, text, text, text, interval),
	gw_notice_release(bigint, text, text) FROM PUBLIC;

DO $$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['notice_settings', 'notice_templates', 'customer_notices',
				 'notice_channels', 'notice_deliveries'] LOOP
		EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
		EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
		EXECUTE format('CREATE POLICY gw_owner_all ON %I TO gw_owner USING (true) WITH CHECK (true)', t);
		EXECUTE format('CREATE POLICY analyst_read ON %I FOR SELECT TO analyst, gw_operator USING (true)', t);
		EXECUTE format('GRANT SELECT ON %I TO analyst, gw_operator', t);
	END LOOP;
END
$$;
-- Operators edit the settings, the templates and the channels.
CREATE POLICY operator_write ON notice_settings FOR UPDATE TO gw_operator USING (true) WITH CHECK (true);
CREATE POLICY operator_write ON notice_templates FOR UPDATE TO gw_operator USING (true) WITH CHECK (true);
CREATE POLICY operator_write ON notice_channels FOR UPDATE TO gw_operator USING (true) WITH CHECK (true);
GRANT UPDATE ON notice_settings, notice_channels TO gw_operator;
GRANT UPDATE (subject, body) ON notice_templates TO gw_operator;
GRANT EXECUTE ON FUNCTION gw_notices_make(date), gw_notices_run(date),
	gw_notice_placeholders(text), gw_notice_template_error(text, text), gw_notice_render(text, jsonb), gw_notice_values(jsonb, text),
	gw_notice_number(numeric, int, text), gw_notice_kwh(numeric, text), gw_notice_signed(text),
	gw_notice_time(timestamp, text) TO gw_operator;
-- The customer portal: its own account's notices.
CREATE POLICY portal_read ON customer_notices FOR SELECT TO customer_portal
	USING (customer_account = gw_session_account());
GRANT SELECT ON customer_notices TO customer_portal;
-- Senders: the four functions, nothing else.
GRANT EXECUTE ON FUNCTION gw_notice_claim(text, text, int, interval), gw_notice_ack(bigint, text, text),
	gw_notice_fail(bigint, text, text, text, interval), gw_notice_release(bigint, text, text)
	TO notice_sender;
