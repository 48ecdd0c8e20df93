-- SPDX-License-Identifier: MIT
-- 013_portal_upkeep: the customer side's upkeep (docs/notices.md,
-- docs/database.md).
--
--   * One bill rule. 010's gw_bill_lines_for (behind gw_bill_estimate(s),
--     the portal's bill) and 011's gw_notice_bills (the notices' bills of
--     all accounts at once) each priced a month to date with the same
--     expressions written twice. Both now call gw_bill_price(), which
--     prices given energies: the tier limits of each sub-period once per
--     tariff (011's faster path), then each account's energy against
--     them. gw_bill_lines_for gives it each account's energy per
--     sub-period (from meter_days, as before); gw_notice_bills the month
--     to date its run already summed. The results are those of before:
--     tests/integration/tariff.sh and notices.sh unchanged, and
--     tests/integration/notices_upkeep.sh compares both paths for many
--     accounts across a price change.
--   * Retention. gw_notices_prune() deletes the notices of days older
--     than notice_settings.keep_days (400) before today, and with them
--     their deliveries (011's trigger); gatewayd-notices.service runs it
--     after each gw_notices_run(). The portal keeps no sessions in the
--     database (its handoff state is portald's memory): nothing else to
--     prune.

-- ---------------------------------------------------------------------
-- The sub-periods of every tariff in the month of local days that holds
-- p_through: one per price list in force in the month, its first and
-- last day there.
CREATE FUNCTION gw_bill_subperiods(p_through date)
RETURNS TABLE (tariff text, price_list date, period_start date, period_end date,
	       sub_from date, sub_to date)
LANGUAGE sql
STABLE
SECURITY INVOKER
AS $$
	WITH p AS (
		SELECT date_trunc('month', p_through::timestamp)::date AS ps,
		       (date_trunc('month', p_through::timestamp) + interval '1 month')::date - 1 AS pe
	)
	SELECT l.tariff, l.valid_from, p.ps, p.pe, greatest(l.valid_from, p.ps),
	       least(coalesce(l.next_from - 1, p.pe), p.pe)
	FROM p, (SELECT v.tariff, v.valid_from,
			lead(v.valid_from) OVER (PARTITION BY v.tariff ORDER BY v.valid_from) AS next_from
		 FROM public.tariff_prices v) l
	WHERE l.valid_from <= p.pe AND (l.next_from IS NULL OR l.next_from > p.ps)
$$;
ALTER FUNCTION gw_bill_subperiods(date) RESET ALL;
COMMENT ON FUNCTION gw_bill_subperiods(date) IS
	'the sub-periods (price lists in force) of every tariff in the month of p_through';

-- gw_bill_price(through, accounts[], tariffs[], price_lists[], wh[]): the
-- bill lines of given energies, the rule of 010 (docs/portal.md, "The
-- bill estimate"). Input row i: account i, its tariff (one per account),
-- and energy wh[i] (Wh, to date): with price_lists[i] NULL it counts
-- only towards the account's energy to date; with a price list, it is
-- also the energy of that sub-period (a tariff that splits by the days'
-- own energy, 'actual', needs those; 'days' uses the sum only). An
-- account needs at least one row, with 0 if it has no energy. Lines: one
-- per account, sub-period and tier (all tiers); none for an account
-- whose tariff has no price list in force in the month. The tier limits
-- of each sub-period are computed once per tariff, not per account.
CREATE FUNCTION gw_bill_price(p_through date, p_accounts text[], p_tariffs text[],
			      p_price_lists date[], p_wh numeric[])
RETURNS TABLE (account text, tariff text, currency text, amount_decimals smallint,
	       period_start date, period_end date, price_list date, sub_from date, sub_to date,
	       tier smallint, from_wh bigint, upto_wh bigint, wh bigint, price numeric, amount numeric)
LANGUAGE sql
STABLE
SECURITY INVOKER
AS $$
	WITH i AS (
		SELECT x.account, x.tariff, x.price_list, x.wh
		FROM unnest(p_accounts, p_tariffs, p_price_lists, p_wh) x(account, tariff, price_list, wh)
		WHERE x.account IS NOT NULL
	),
	-- each account's tariff and energy to date (a)
	acc AS (
		SELECT i.account, min(i.tariff) AS tariff, coalesce(sum(i.wh), 0) AS a
		FROM i GROUP BY i.account
	),
	own AS (
		SELECT i.account, i.price_list, sum(i.wh) AS own
		FROM i WHERE i.price_list IS NOT NULL GROUP BY i.account, i.price_list
	),
	-- the sub-periods of the tariffs in use: the month's days before one
	-- (c0) and up to its end (c1) of dm
	s AS MATERIALIZED (
		SELECT f.tariff, f.currency, f.amount_decimals, f.share_round_wh::numeric AS u, f.split,
		       b.price_list, b.period_start AS ps, b.period_end AS pe, b.sub_from AS s_from,
		       b.sub_to AS s_to, (b.period_end - b.period_start + 1)::numeric AS dm,
		       (b.sub_from - b.period_start)::numeric AS c0,
		       (b.sub_to - b.period_start + 1)::numeric AS c1
		FROM public.tariffs f
		JOIN public.gw_bill_subperiods(p_through) b ON b.tariff = f.tariff
		WHERE f.tariff IN (SELECT acc.tariff FROM acc)
	),
	-- the tiers of each sub-period with their limits there (Wh), from
	-- the month's limits (lim, prev of the tier before) as shares of the
	-- month that add up exactly
	k AS MATERIALIZED (
		SELECT s.*, g.tier, g.price,
		       (CASE WHEN s.c1 = s.dm THEN g.lim ELSE round(g.lim * s.c1 / s.dm / s.u) * s.u END)
		     - (CASE WHEN s.c0 = s.dm THEN g.lim ELSE round(g.lim * s.c0 / s.dm / s.u) * s.u END) AS upto,
		       (CASE WHEN s.c1 = s.dm THEN g.prev ELSE round(g.prev * s.c1 / s.dm / s.u) * s.u END)
		     - (CASE WHEN s.c0 = s.dm THEN g.prev ELSE round(g.prev * s.c0 / s.dm / s.u) * s.u END) AS low
		FROM s
		JOIN (SELECT r.tariff, r.valid_from, r.tier, r.price, r.upto_kwh::numeric * 1000 AS lim,
			     coalesce(lag(r.upto_kwh) OVER (PARTITION BY r.tariff, r.valid_from ORDER BY r.tier),
				      0)::numeric * 1000 AS prev
		      FROM public.tariff_tiers r) g
		  ON g.tariff = s.tariff AND g.valid_from = s.price_list
	),
	-- each account's energy of each sub-period: 'days' its energy to
	-- date in proportion to the sub-period's days of the month, 'actual'
	-- the sub-period's own
	w AS (
		SELECT acc.account, s.tariff, s.price_list,
		       CASE WHEN s.split = 'actual' THEN coalesce(own.own, 0)
			    ELSE (CASE WHEN s.c1 = s.dm THEN acc.a ELSE round(acc.a * s.c1 / s.dm / s.u) * s.u END)
			       - (CASE WHEN s.c0 = s.dm THEN acc.a ELSE round(acc.a * s.c0 / s.dm / s.u) * s.u END)
		       END AS s_wh
		FROM acc
		JOIN s ON s.tariff = acc.tariff
		LEFT JOIN own ON own.account = acc.account AND own.price_list = s.price_list
	)
	SELECT w.account, k.tariff, k.currency, k.amount_decimals, k.ps, k.pe, k.price_list, k.s_from,
	       k.s_to, k.tier, k.low::bigint, k.upto::bigint,
	       greatest(0, least(w.s_wh, coalesce(k.upto, w.s_wh)) - k.low)::bigint,
	       k.price,
	       round(greatest(0, least(w.s_wh, coalesce(k.upto, w.s_wh)) - k.low) * k.price / 1000,
		     k.amount_decimals)
	FROM w
	JOIN k ON k.tariff = w.tariff AND k.price_list = w.price_list
$$;
ALTER FUNCTION gw_bill_price(date, text[], text[], date[], numeric[]) RESET ALL;
COMMENT ON FUNCTION gw_bill_price(date, text[], text[], date[], numeric[]) IS
	'bill lines (per account, sub-period and tier) of given month-to-date energies: the one pricing rule of gw_bill_lines_for and gw_notice_bills';

-- 010's lines of the accounts' bills: the accounts the caller sees (row-
-- level security on meter_accounts and meter_days), their tariffs and
-- their energy per sub-period from meter_days, priced by gw_bill_price.
CREATE OR REPLACE FUNCTION gw_bill_lines_for(p_accounts text[], p_through date)
RETURNS TABLE (account text, period_start date, period_end date, through date, tariff text,
	       currency text, price_list date, sub_from date, sub_to date, tier smallint,
	       from_wh bigint, upto_wh bigint, wh bigint, price numeric, amount numeric)
LANGUAGE sql
STABLE
SECURITY INVOKER
AS $$
	WITH acc AS (SELECT DISTINCT x.account FROM unnest(p_accounts) x(account) WHERE x.account IS NOT NULL),
	-- Each account's tariff (its own, else the default), if the caller
	-- sees the account at all.
	t AS MATERIALIZED (
		SELECT acc.account, f.tariff
		FROM acc
		JOIN public.tariffs f ON f.tariff = coalesce(
			(SELECT x.tariff FROM public.account_tariffs x
			 WHERE x.customer_account = acc.account AND x.valid_from <= p_through
			 ORDER BY x.valid_from DESC LIMIT 1),
			(SELECT d.tariff FROM public.tariffs d WHERE d.is_default))
		WHERE EXISTS (SELECT FROM public.meter_accounts a WHERE a.customer_account = acc.account)
	),
	s AS MATERIALIZED (
		SELECT b.* FROM public.gw_bill_subperiods(p_through) b
		WHERE b.tariff IN (SELECT t.tariff FROM t)
	),
	-- The energy of each account's sub-period to date, over the account's
	-- meters on the days it held them.
	o AS (
		SELECT t.account, t.tariff, s.price_list, sum(d.import_wh) AS own
		FROM t
		JOIN s ON s.tariff = t.tariff
		JOIN public.meter_accounts a ON a.customer_account = t.account
		JOIN public.meter_days d ON d.meter_id = a.meter_id
		     AND d.day >= greatest(a.valid_from, s.sub_from) AND d.day <= least(s.sub_to, p_through)
		     AND (a.valid_to IS NULL OR d.day < a.valid_to)
		GROUP BY t.account, t.tariff, s.price_list
	),
	i AS (
		SELECT t.account, t.tariff, NULL::date AS price_list, 0::numeric AS wh FROM t
		UNION ALL
		SELECT o.account, o.tariff, o.price_list, o.own FROM o
	),
	x AS (
		SELECT array_agg(i.account) AS a, array_agg(i.tariff) AS t, array_agg(i.price_list) AS p,
		       array_agg(i.wh) AS w
		FROM i
	)
	SELECT l.account, l.period_start, l.period_end, p_through, l.tariff, l.currency, l.price_list,
	       l.sub_from, l.sub_to, l.tier, l.from_wh, l.upto_wh, l.wh, l.price, l.amount
	FROM x, public.gw_bill_price(p_through, x.a, x.t, x.p, x.w) l
$$;
ALTER FUNCTION gw_bill_lines_for(text[], date) RESET ALL;

-- 011's bills of the notice run: the accounts of pg_temp.gw_nt that get
-- their daily notice now and whose tariff splits a month by days, their
-- month to date (mtd_wh) priced by gw_bill_price. Sets gw_nt.tariff of
-- each (as before); returns (acct, total, currency).
CREATE OR REPLACE FUNCTION gw_notice_bills(p_day date)
RETURNS TABLE (acct text, total numeric, currency text)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
#variable_conflict use_column
DECLARE
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
	WITH x AS (
		SELECT array_agg(n.acct) AS a, array_agg(n.tariff) AS t,
		       array_agg(NULL::date) AS p, array_agg(n.mtd_wh::numeric) AS w
		FROM pg_temp.gw_nt n
		JOIN tariffs f ON f.tariff = n.tariff AND f.split = 'days'
		WHERE n.new_daily
	),
	b AS (
		SELECT l.account, l.tariff, l.currency, l.amount_decimals, sum(l.amount) AS amount
		FROM x, gw_bill_price(p_day, x.a, x.t, x.p, x.w) l
		GROUP BY l.account, l.tariff, l.currency, l.amount_decimals
	)
	SELECT b.account, b.amount + round(b.amount * v.rate, b.amount_decimals), b.currency
	FROM b
	LEFT JOIN LATERAL (SELECT vt.rate FROM tariff_vat vt
			   WHERE vt.tariff = b.tariff AND vt.valid_from <= v_pe
			   ORDER BY vt.valid_from DESC LIMIT 1) v ON true;
END
$$;

-- ---------------------------------------------------------------------
-- Retention of the notices.
ALTER TABLE notice_settings ADD COLUMN keep_days int NOT NULL DEFAULT 400
	CHECK (keep_days BETWEEN 31 AND 36600);
COMMENT ON COLUMN notice_settings.keep_days IS
	'gw_notices_prune() deletes the notices (and deliveries) of days older than this many days before today';

-- gw_notices_prune(keep): deletes the notices whose day is before today
-- (in notice_settings.timezone) minus keep (default: keep_days days),
-- and their deliveries, sent or not, with them. Returns the first day
-- kept and what was deleted. keep under 31 days is refused (a typo must
-- not empty the table).
CREATE FUNCTION gw_notices_prune(p_keep interval DEFAULT NULL)
RETURNS TABLE (kept_from date, notices bigint, deliveries bigint)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
DECLARE
	s notice_settings%ROWTYPE;
	v_keep interval;
	v_from date;
	v_n bigint;
	v_d bigint;
BEGIN
	SELECT * INTO s FROM notice_settings;
	v_keep := coalesce(p_keep, make_interval(days => s.keep_days));
	IF v_keep < interval '31 days' THEN
		RAISE EXCEPTION 'gw_notices_prune: keep % is less than 31 days', v_keep
			USING HINT = 'notices are kept for notice_settings.keep_days (400) days by default';
	END IF;
	v_from := ((now() AT TIME ZONE s.timezone)::date - v_keep)::date;
	SELECT count(*) INTO v_d
	FROM notice_deliveries d
	WHERE d.notice_id IN (SELECT c.notice_id FROM customer_notices c WHERE c.day < v_from);
	-- the deliveries go with their notices (customer_notices_deliveries_del)
	DELETE FROM customer_notices c WHERE c.day < v_from;
	GET DIAGNOSTICS v_n = ROW_COUNT;
	RETURN QUERY SELECT v_from, v_n, v_d;
END
$$;
COMMENT ON FUNCTION gw_notices_prune(interval) IS
	'deletes the notices (and their deliveries) of days older than keep (notice_settings.keep_days) before today';

ALTER FUNCTION gw_bill_subperiods(date) OWNER TO gw_owner;
ALTER FUNCTION gw_bill_price(date, text[], text[], date[], numeric[]) OWNER TO gw_owner;
ALTER FUNCTION gw_notices_prune(interval) OWNER TO gw_owner;
REVOKE ALL ON FUNCTION gw_bill_subperiods(date), gw_bill_price(date, text[], text[], date[], numeric[]),
	gw_notices_prune(interval) FROM PUBLIC;
-- Whoever may price a bill calls the rule's parts (SECURITY INVOKER: what
-- they read is still their own rows).
GRANT EXECUTE ON FUNCTION gw_bill_subperiods(date), gw_bill_price(date, text[], text[], date[], numeric[])
	TO analyst, gw_operator, customer_portal;
GRANT EXECUTE ON FUNCTION gw_notices_prune(interval) TO gw_operator;
