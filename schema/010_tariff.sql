-- SPDX-License-Identifier: MIT
-- 010_tariff: tariffs kept as data, and the month-to-date bill estimate
-- of a customer account (gw_bill_estimate), for the portal, the customer
-- notices and the analysts.
--
--   * tariffs: one row per tariff (the utility's residential tariff, ...):
--     its currency, how its amounts are rounded, how a month that crosses
--     a price change is split, and which tariff an account is on when
--     account_tariffs says nothing (is_default).
--   * tariff_prices: the tariff's successive price lists, each in force
--     from valid_from until the next one's valid_from; tariff_tiers: the
--     tiers of each list (upper limit in kWh per month, price per kWh
--     without VAT). A price change is an INSERT of a new list with its
--     date (docs/portal.md has the example).
--   * tariff_vat: the VAT rate of a tariff, in force from valid_from.
--   * account_tariffs: which tariff an account is on, from valid_from.
--
-- Only the owner (gw_owner) writes them; analysts, operators and the
-- portal read them. Price lists are public; account_tariffs has
-- row-level security: the portal sees its session's account's rows only.
--
-- The bill (gw_bill_estimate, gw_bill_lines): the calendar month of local
-- days (as meter_days counts them) containing p_through, its energy from
-- the first of the month to p_through, priced with the month's tier
-- limits. A month that crosses a price change is cut into sub-periods,
-- one per price list in force; each sub-period's tier limits are the
-- month's limits times its share of the month's days (the Ministry of
-- Industry and Trade's rule on retail electricity prices, Circular
-- 16/2014/TT-BCT; docs/portal.md has the rule, its rounding and what
-- could not be confirmed). Both functions run with the caller's rights:
-- under the portal role, row-level security lets them see only the
-- session's account (another account gives no row at all).

-- ---------------------------------------------------------------------
CREATE TABLE tariffs (
	tariff          text PRIMARY KEY CHECK (tariff ~ '^[A-Za-z0-9._-]{1,32}$'),
	name            text NOT NULL,
	currency        text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
	-- Decimals of every amount (0: whole VND). Each tier's amount, the
	-- VAT and so the total are rounded to them, half away from zero.
	amount_decimals smallint NOT NULL DEFAULT 0 CHECK (amount_decimals BETWEEN 0 AND 4),
	-- The unit (Wh) to which a sub-period's share of the month is rounded:
	-- its tier limits, and with split = 'days' its energy (1000: whole kWh,
	-- as a bill prints them). The shares of a month always add up to the
	-- whole exactly (see gw_bill_lines).
	share_round_wh  integer NOT NULL DEFAULT 1000 CHECK (share_round_wh BETWEEN 1 AND 1000000),
	-- The energy of a sub-period at one price list: 'days', the month's
	-- energy in proportion to the sub-period's days (what the utility's
	-- bill does when the meter was not read on the day of the change);
	-- 'actual', the sub-period's own days' energy (a utility that reads
	-- every meter at the change).
	split           text NOT NULL DEFAULT 'days' CHECK (split IN ('days', 'actual')),
	-- The tariff of every account that account_tariffs does not name.
	is_default      boolean NOT NULL DEFAULT false,
	source          text
);
CREATE UNIQUE INDEX tariffs_one_default ON tariffs (is_default) WHERE is_default;
COMMENT ON TABLE tariffs IS
	'tariffs: currency, rounding of amounts, how a month crossing a price change is split; is_default: the tariff of accounts not in account_tariffs';

CREATE TABLE tariff_prices (
	tariff          text NOT NULL REFERENCES tariffs ON UPDATE CASCADE,
	valid_from      date NOT NULL CHECK (valid_from > '-infinity' AND valid_from < 'infinity'),
	source          text NOT NULL,   -- the decision that set the prices
	PRIMARY KEY (tariff, valid_from)
);
COMMENT ON TABLE tariff_prices IS
	'price lists of a tariff, each in force from valid_from (a local day) until the next one''s valid_from';

CREATE TABLE tariff_tiers (
	tariff          text NOT NULL,
	valid_from      date NOT NULL,
	tier            smallint NOT NULL CHECK (tier >= 1),
	-- The tier's upper limit, kWh per month (the tier holds the energy
	-- above the previous tier's limit up to this); NULL: the last tier.
	upto_kwh        integer CHECK (upto_kwh > 0),
	price           numeric(14, 4) NOT NULL CHECK (price >= 0),   -- per kWh, without VAT
	PRIMARY KEY (tariff, valid_from, tier),
	FOREIGN KEY (tariff, valid_from) REFERENCES tariff_prices ON UPDATE CASCADE ON DELETE CASCADE
);
COMMENT ON TABLE tariff_tiers IS
	'tiers of a price list: upper limit in kWh per month (NULL: the last tier), price per kWh without VAT';

CREATE TABLE tariff_vat (
	tariff          text NOT NULL REFERENCES tariffs ON UPDATE CASCADE,
	valid_from      date NOT NULL,
	rate            numeric(6, 4) NOT NULL CHECK (rate >= 0 AND rate < 1),  -- 0.08: 8 %
	source          text NOT NULL,
	PRIMARY KEY (tariff, valid_from)
);
COMMENT ON TABLE tariff_vat IS
	'VAT rate of a tariff from valid_from; a bill takes the rate in force on the last day of its month';

CREATE TABLE account_tariffs (
	customer_account text NOT NULL,
	valid_from       date NOT NULL DEFAULT '-infinity',
	tariff           text NOT NULL REFERENCES tariffs ON UPDATE CASCADE,
	PRIMARY KEY (customer_account, valid_from)
);
COMMENT ON TABLE account_tariffs IS
	'the tariff of a customer account from valid_from; an account without a row is on the default tariff';

-- A price list must be whole when its transaction commits: tiers 1..n
-- without a gap, limits rising, only the last tier without a limit. The
-- check runs at commit (deferred), so a list is inserted row by row.
CREATE FUNCTION gw_tariff_check() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
DECLARE
	v_tariff text := coalesce(NEW.tariff, OLD.tariff);
	v_from date := coalesce(NEW.valid_from, OLD.valid_from);
	v_n int;
	v_bad text;
BEGIN
	IF NOT EXISTS (SELECT FROM tariff_prices p WHERE p.tariff = v_tariff AND p.valid_from = v_from) THEN
		RETURN NULL;   -- the list itself is gone (its tiers with it)
	END IF;
	SELECT count(*) INTO v_n FROM tariff_tiers t WHERE t.tariff = v_tariff AND t.valid_from = v_from;
	SELECT string_agg(x.why, '; ') INTO v_bad FROM (
		SELECT format('tier %s follows tier %s', t.tier, lag(t.tier) OVER w) AS why,
		       t.tier <> coalesce(lag(t.tier) OVER w, 0) + 1 AS bad
		FROM tariff_tiers t WHERE t.tariff = v_tariff AND t.valid_from = v_from
		WINDOW w AS (ORDER BY t.tier)
		UNION ALL
		SELECT format('tier %s has no upper limit but is not the last', t.tier), t.upto_kwh IS NULL AND t.tier < v_n
		FROM tariff_tiers t WHERE t.tariff = v_tariff AND t.valid_from = v_from
		UNION ALL
		SELECT format('the last tier %s has an upper limit (%s kWh)', t.tier, t.upto_kwh), t.upto_kwh IS NOT NULL AND t.tier = v_n
		FROM tariff_tiers t WHERE t.tariff = v_tariff AND t.valid_from = v_from
		UNION ALL
		SELECT format('tier %s ends at %s kWh, not above tier %s''s %s kWh', t.tier, t.upto_kwh, t.tier - 1, l.upto_kwh),
		       t.upto_kwh <= l.upto_kwh
		FROM tariff_tiers t JOIN tariff_tiers l ON l.tariff = t.tariff AND l.valid_from = t.valid_from AND l.tier = t.tier - 1
		WHERE t.tariff = v_tariff AND t.valid_from = v_from) x
	WHERE x.bad;
	IF v_n = 0 THEN
		v_bad := 'it has no tiers';
	END IF;
	IF v_bad IS NOT NULL THEN
		RAISE EXCEPTION 'price list of tariff % from %: %', v_tariff, v_from, v_bad
			USING ERRCODE = 'check_violation';
	END IF;
	RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER tariff_prices_whole AFTER INSERT OR UPDATE ON tariff_prices
	DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION gw_tariff_check();
CREATE CONSTRAINT TRIGGER tariff_tiers_whole AFTER INSERT OR UPDATE OR DELETE ON tariff_tiers
	DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION gw_tariff_check();

-- ---------------------------------------------------------------------
-- The example tariff: EVN's residential (sinh hoạt) tariff, six tiers,
-- VND per kWh without VAT. Each list is the Ministry of Industry and
-- Trade's (Bộ Công Thương) or EVN's decision on retail electricity prices:
--   2019-03-20  Decision 648/QĐ-BCT of 20 March 2019
--   2023-05-04  Decision 377/QĐ-EVN of 3 May 2023 (+3 %): figures not
--               confirmed from a second source, see docs/portal.md
--   2023-11-09  Decision 2941/QĐ-BCT of 8 November 2023 (+4.5 %)
--   2024-10-11  Decision 2699/QĐ-BCT of 11 October 2024 (+4.8 %)
--   2025-05-10  Decision 1279/QĐ-BCT of 9 May 2025 (+4.8 %)
-- A Prime Minister's Decision 14/2025/QĐ-TTg (29 May 2025) sets a
-- five-tier structure from the next adjustment after it; its prices are
-- not known here, so it is not in this data: the utility adds it as a new
-- list (with five tiers) when it is in force.
INSERT INTO tariffs (tariff, name, currency, amount_decimals, share_round_wh, split, is_default, source)
VALUES ('EVN-RES', 'EVN residential (sinh hoạt), six tiers', 'VND', 0, 1000, 'days', true,
	'Circular 16/2014/TT-BCT (tiers, the split of a month at a price change); the decisions of each price list');

INSERT INTO tariff_prices (tariff, valid_from, source) VALUES
	('EVN-RES', '2019-03-20', 'Decision 648/QĐ-BCT of 2019-03-20'),
	('EVN-RES', '2023-05-04', 'Decision 377/QĐ-EVN of 2023-05-03 (figures not confirmed from a second source)'),
	('EVN-RES', '2023-11-09', 'Decision 2941/QĐ-BCT of 2023-11-08'),
	('EVN-RES', '2024-10-11', 'Decision 2699/QĐ-BCT of 2024-10-11'),
	('EVN-RES', '2025-05-10', 'Decision 1279/QĐ-BCT of 2025-05-09');

INSERT INTO tariff_tiers (tariff, valid_from, tier, upto_kwh, price)
SELECT 'EVN-RES', l.valid_from, t.tier, t.upto, l.prices[t.tier]
FROM (VALUES (date '2019-03-20', ARRAY[1678, 1734, 2014, 2536, 2834, 2927]),
	     (date '2023-05-04', ARRAY[1728, 1786, 2074, 2612, 2919, 3015]),
	     (date '2023-11-09', ARRAY[1806, 1866, 2167, 2729, 3050, 3151]),
	     (date '2024-10-11', ARRAY[1893, 1956, 2271, 2860, 3197, 3302]),
	     (date '2025-05-10', ARRAY[1984, 2050, 2380, 2998, 3350, 3460])) l(valid_from, prices)
CROSS JOIN (VALUES (1, 50), (2, 100), (3, 200), (4, 300), (5, 400), (6, NULL)) t(tier, upto);

-- VAT on electricity: 10 %; 8 % while the reductions of the Government's
-- decrees were in force (Decree 15/2022/NĐ-CP, 44/2023/NĐ-CP,
-- 94/2023/NĐ-CP, 72/2024/NĐ-CP, 180/2024/NĐ-CP, 174/2025/NĐ-CP). The
-- dates are not confirmed from a primary source: docs/portal.md.
INSERT INTO tariff_vat (tariff, valid_from, rate, source) VALUES
	('EVN-RES', '2019-01-01', 0.10, 'Law on VAT'),
	('EVN-RES', '2022-02-01', 0.08, 'Decree 15/2022/NĐ-CP (to 2022-12-31)'),
	('EVN-RES', '2023-01-01', 0.10, 'Law on VAT'),
	('EVN-RES', '2023-07-01', 0.08, 'Decree 44/2023/NĐ-CP, then 94/2023/NĐ-CP, 72/2024/NĐ-CP, 180/2024/NĐ-CP'),
	('EVN-RES', '2025-07-01', 0.08, 'Decree 174/2025/NĐ-CP (to 2026-12-31)'),
	('EVN-RES', '2027-01-01', 0.10, 'Law on VAT');

-- The example lists checked now (and the tables free for ALTER below).
SET CONSTRAINTS tariff_prices_whole, tariff_tiers_whole IMMEDIATE;

-- ---------------------------------------------------------------------
-- The bill. gw_bill_lines_for(accounts, through): the lines of the
-- accounts' month-to-date bills, one per account, sub-period (price list
-- in force) and tier, all tiers of each list (those without energy too).
-- An account has no lines when the caller sees no meter_accounts row of
-- it (row-level security), or when its tariff has no price list in force
-- in the month. All accounts are priced in one pass (a notice run of
-- 100,000 accounts is one query), in no particular order;
-- gw_bill_lines(account, through) is the same for one account, in the
-- order of sub-periods and tiers.
--
-- The rule (docs/portal.md, "The bill estimate"):
--   period  the calendar month of local days containing p_through, D days;
--           energy is counted from its first day to p_through.
--   sub-periods  one per price list in force in the month; sub-period s
--           has d_s days of the whole month (not only to date).
--   limits  tier k's upper limit in sub-period s: L_k x d_s / D, as
--           shares of the month that add up exactly: with c_s the days of
--           the month up to the end of s, the limit is
--           R(L_k x c_s / D) - R(L_k x c_(s-1) / D), R rounding to
--           share_round_wh (half away from zero), R(L_k x D / D) = L_k.
--           The limits are the whole month's: a month-to-date estimate
--           prices its energy so far against the month's limits.
--   energy  split 'days': the energy to date A in proportion to each
--           sub-period's days of the month, R(A x c_s / D) - R(A x
--           c_(s-1) / D): what the month's bill would say if no more
--           energy were used this month; split 'actual': the sub-period's
--           own days' energy to date.
--   amount  per line: Wh x price / 1000, rounded to amount_decimals.
CREATE FUNCTION gw_bill_lines_for(p_accounts text[], p_through date)
RETURNS TABLE (account text, period_start date, period_end date, through date, tariff text,
	       currency text, price_list date, sub_from date, sub_to date, tier smallint,
	       from_wh bigint, upto_wh bigint, wh bigint, price numeric, amount numeric)
LANGUAGE sql
STABLE
SECURITY INVOKER
AS $$
	WITH p AS (
		SELECT date_trunc('month', p_through::timestamp)::date AS ps,
		       (date_trunc('month', p_through::timestamp) + interval '1 month')::date - 1 AS pe
	),
	acc AS (SELECT DISTINCT x.account FROM unnest(p_accounts) x(account) WHERE x.account IS NOT NULL),
	-- Each account's tariff (its own, else the default), if the caller
	-- sees the account at all.
	t AS MATERIALIZED (
		SELECT acc.account, f.tariff, f.currency, f.amount_decimals,
		       f.share_round_wh::numeric AS u, f.split
		FROM acc
		JOIN public.tariffs f ON f.tariff = coalesce(
			(SELECT x.tariff FROM public.account_tariffs x
			 WHERE x.customer_account = acc.account AND x.valid_from <= p_through
			 ORDER BY x.valid_from DESC LIMIT 1),
			(SELECT d.tariff FROM public.tariffs d WHERE d.is_default))
		WHERE EXISTS (SELECT FROM public.meter_accounts a WHERE a.customer_account = acc.account)
	),
	-- The sub-periods of each tariff: its price lists in force in the month.
	s AS (
		SELECT l.tariff, l.valid_from AS price_list, p.ps, p.pe,
		       greatest(l.valid_from, p.ps) AS s_from,
		       least(coalesce(l.next_from - 1, p.pe), p.pe) AS s_to
		FROM p, (SELECT v.tariff, v.valid_from,
				lead(v.valid_from) OVER (PARTITION BY v.tariff ORDER BY v.valid_from) AS next_from
			 FROM public.tariff_prices v) l
		WHERE l.valid_from <= p.pe AND (l.next_from IS NULL OR l.next_from > p.ps)
	),
	ts AS MATERIALIZED (
		SELECT t.*, s.price_list, s.ps, s.pe, s.s_from, s.s_to
		FROM t JOIN s ON s.tariff = t.tariff
	),
	-- The energy of each account's sub-period to date, over the account's
	-- meters on the days it held them.
	o AS (
		SELECT ts.account, ts.price_list, sum(d.import_wh) AS own
		FROM ts
		JOIN public.meter_accounts a ON a.customer_account = ts.account
		JOIN public.meter_days d ON d.meter_id = a.meter_id
		     AND d.day >= greatest(a.valid_from, ts.s_from) AND d.day <= least(ts.s_to, p_through)
		     AND (a.valid_to IS NULL OR d.day < a.valid_to)
		GROUP BY ts.account, ts.price_list
	),
	-- Each account's sub-periods: the month's days before one (c0) and up
	-- to its end (c1) of dm, the account's energy to date (a) and the
	-- sub-period's own (own).
	e AS (
		SELECT ts.*, (ts.pe - ts.ps + 1)::numeric AS dm, (ts.s_from - ts.ps)::numeric AS c0,
		       (ts.s_to - ts.ps + 1)::numeric AS c1,
		       coalesce(sum(o.own) OVER (PARTITION BY ts.account), 0) AS a,
		       coalesce(o.own, 0) AS own
		FROM ts
		LEFT JOIN o ON o.account = ts.account AND o.price_list = ts.price_list
	),
	w AS (
		SELECT e.*,
		       CASE WHEN e.split = 'actual' THEN e.own
			    ELSE (CASE WHEN e.c1 = e.dm THEN e.a ELSE round(e.a * e.c1 / e.dm / e.u) * e.u END)
			       - (CASE WHEN e.c0 = e.dm THEN e.a ELSE round(e.a * e.c0 / e.dm / e.u) * e.u END)
		       END AS s_wh
		FROM e
	),
	-- The tiers of each list: upper limit (lim) and the previous tier's
	-- (prev), Wh a month.
	g AS MATERIALIZED (
		SELECT r.tariff, r.valid_from, r.tier, r.price, r.upto_kwh::numeric * 1000 AS lim,
		       coalesce(lag(r.upto_kwh) OVER (PARTITION BY r.tariff, r.valid_from ORDER BY r.tier), 0)::numeric
		       * 1000 AS prev
		FROM public.tariff_tiers r
		WHERE (r.tariff, r.valid_from) IN (SELECT s.tariff, s.price_list FROM s)
	),
	-- The tiers of each sub-period with their limits there (Wh).
	k AS (
		SELECT w.*, g.tier, g.price,
		       (CASE WHEN w.c1 = w.dm THEN g.lim ELSE round(g.lim * w.c1 / w.dm / w.u) * w.u END)
		     - (CASE WHEN w.c0 = w.dm THEN g.lim ELSE round(g.lim * w.c0 / w.dm / w.u) * w.u END) AS upto,
		       (CASE WHEN w.c1 = w.dm THEN g.prev ELSE round(g.prev * w.c1 / w.dm / w.u) * w.u END)
		     - (CASE WHEN w.c0 = w.dm THEN g.prev ELSE round(g.prev * w.c0 / w.dm / w.u) * w.u END) AS low
		FROM w
		JOIN g ON g.tariff = w.tariff AND g.valid_from = w.price_list
	)
	SELECT k.account, k.ps, k.pe, p_through, k.tariff, k.currency, k.price_list, k.s_from, k.s_to,
	       k.tier, k.low::bigint, k.upto::bigint,
	       greatest(0, least(k.s_wh, coalesce(k.upto, k.s_wh)) - k.low)::bigint AS wh,
	       k.price,
	       round(greatest(0, least(k.s_wh, coalesce(k.upto, k.s_wh)) - k.low) * k.price / 1000,
		     k.amount_decimals)
	FROM k
$$;
ALTER FUNCTION gw_bill_lines_for(text[], date) RESET ALL;

COMMENT ON FUNCTION gw_bill_lines_for(text[], date) IS
	'lines of the month-to-date bills of accounts: per account, price list in force in the month and tier, the tier''s limits there (Wh), its energy and amount';

CREATE FUNCTION gw_bill_lines(p_account text, p_through date)
RETURNS TABLE (period_start date, period_end date, through date, tariff text, currency text,
	       price_list date, sub_from date, sub_to date, tier smallint,
	       from_wh bigint, upto_wh bigint, wh bigint, price numeric, amount numeric)
LANGUAGE plpgsql
STABLE
SECURITY INVOKER
AS $$
BEGIN
	RETURN QUERY
	SELECT l.period_start, l.period_end, l.through, l.tariff, l.currency, l.price_list,
	       l.sub_from, l.sub_to, l.tier, l.from_wh, l.upto_wh, l.wh, l.price, l.amount
	FROM public.gw_bill_lines_for(ARRAY[p_account], p_through) l
	ORDER BY l.sub_from, l.tier;
END
$$;
ALTER FUNCTION gw_bill_lines(text, date) RESET ALL;
ALTER FUNCTION gw_bill_lines(text, date) SET plan_cache_mode = force_generic_plan;

COMMENT ON FUNCTION gw_bill_lines(text, date) IS
	'lines of the month-to-date bill of an account: per price list in force in the month and tier, the tier''s limits there (Wh), its energy and amount';

-- gw_bill_estimates(accounts, through): one row per account, its
-- month-to-date bill; none for an account the caller does not see (or
-- whose tariff has no price list in force in the month).
--   import_wh       the account's energy from period_start to through
--   amount          the sum of the lines (without VAT); vat = amount x
--                   the rate in force on period_end, rounded; total = both
--   days_estimated  days to date of the account's meters whose quality is
--                   estimated or incomplete
--   days_missing    days to date on which the account held a meter that
--                   has no day (no import) in meter_days
--   days_with_data  days to date with the import of a meter
--   (the three count meter-days: days, for an account of one meter)
--   tier_limits     'month': the month's limits (see gw_bill_lines_for)
-- gw_bill_estimate(account, through) is the same for one account, without
-- the account column; its first eleven columns are fixed. The one-account
-- functions are PL/pgSQL with a generic plan, so that a session (the
-- portal's pooled connections) plans their query once, not on every
-- call: the query above takes the planner about ten times as long as
-- running it for one account.
CREATE FUNCTION gw_bill_estimates(p_accounts text[], p_through date)
RETURNS TABLE (account text, period_start date, period_end date, through date, import_wh bigint,
	       amount numeric, vat numeric, total numeric, currency text, tariff text,
	       days_estimated integer, days_missing integer,
	       vat_rate numeric, price_lists integer, days_with_data integer, tier_limits text)
LANGUAGE sql
STABLE
SECURITY INVOKER
AS $$
	WITH b AS (
		SELECT l.account, l.period_start, l.period_end, l.tariff, l.currency,
		       sum(l.amount) AS amount, count(DISTINCT l.price_list)::int AS lists
		FROM public.gw_bill_lines_for(p_accounts, p_through) l
		GROUP BY l.account, l.period_start, l.period_end, l.tariff, l.currency
	),
	-- The meter-days each account held to date (its meter_accounts rows
	-- do not overlap), and what meter_days has of them.
	held AS (
		SELECT a.customer_account AS account,
		       sum(greatest(0, least(coalesce(a.valid_to - 1, p_through), p_through)
				   - greatest(a.valid_from, b.period_start) + 1))::int AS days
		FROM b
		JOIN public.meter_accounts a ON a.customer_account = b.account
		GROUP BY a.customer_account
	),
	c AS (
		SELECT a.customer_account AS account, sum(d.import_wh)::bigint AS import_wh,
		       count(*) FILTER (WHERE d.quality IN ('estimated', 'incomplete'))::int AS est,
		       count(d.import_wh)::int AS with_data
		FROM b
		JOIN public.meter_accounts a ON a.customer_account = b.account
		JOIN public.meter_days d ON d.meter_id = a.meter_id
		     AND d.day >= greatest(a.valid_from, b.period_start) AND d.day <= p_through
		     AND (a.valid_to IS NULL OR d.day < a.valid_to)
		GROUP BY a.customer_account
	),
	-- The VAT rate of each tariff on the month's last day.
	v AS MATERIALIZED (
		SELECT f.tariff, f.amount_decimals,
		       (SELECT x.rate FROM public.tariff_vat x
			WHERE x.tariff = f.tariff AND x.valid_from <= (SELECT max(b.period_end) FROM b)
			ORDER BY x.valid_from DESC LIMIT 1) AS rate
		FROM public.tariffs f
	)
	SELECT b.account, b.period_start, b.period_end, p_through, coalesce(c.import_wh, 0), b.amount,
	       round(b.amount * v.rate, v.amount_decimals),
	       b.amount + round(b.amount * v.rate, v.amount_decimals),
	       b.currency, b.tariff, coalesce(c.est, 0),
	       greatest(0, coalesce(h.days, 0) - coalesce(c.with_data, 0)), v.rate, b.lists,
	       coalesce(c.with_data, 0), 'month'::text
	FROM b
	LEFT JOIN held h ON h.account = b.account
	LEFT JOIN c ON c.account = b.account
	JOIN v ON v.tariff = b.tariff
	ORDER BY b.account
$$;
ALTER FUNCTION gw_bill_estimates(text[], date) RESET ALL;

COMMENT ON FUNCTION gw_bill_estimates(text[], date) IS
	'month-to-date bill estimates of accounts, one row each (see gw_bill_estimate)';

CREATE FUNCTION gw_bill_estimate(p_account text, p_through date)
RETURNS TABLE (period_start date, period_end date, through date, import_wh bigint,
	       amount numeric, vat numeric, total numeric, currency text, tariff text,
	       days_estimated integer, days_missing integer,
	       vat_rate numeric, price_lists integer, days_with_data integer, tier_limits text)
LANGUAGE plpgsql
STABLE
SECURITY INVOKER
AS $$
BEGIN
	RETURN QUERY
	SELECT e.period_start, e.period_end, e.through, e.import_wh, e.amount, e.vat, e.total,
	       e.currency, e.tariff, e.days_estimated, e.days_missing, e.vat_rate, e.price_lists,
	       e.days_with_data, e.tier_limits
	FROM public.gw_bill_estimates(ARRAY[p_account], p_through) e;
END
$$;
ALTER FUNCTION gw_bill_estimate(text, date) RESET ALL;
ALTER FUNCTION gw_bill_estimate(text, date) SET plan_cache_mode = force_generic_plan;

COMMENT ON FUNCTION gw_bill_estimate(text, date) IS
	'month-to-date bill estimate of an account: the calendar month of local days containing p_through, energy to p_through priced with the month''s tier limits';

-- ---------------------------------------------------------------------
ALTER TABLE account_tariffs ENABLE ROW LEVEL SECURITY;
ALTER TABLE account_tariffs FORCE ROW LEVEL SECURITY;
CREATE POLICY gw_owner_all ON account_tariffs TO gw_owner USING (true) WITH CHECK (true);
CREATE POLICY analyst_read ON account_tariffs FOR SELECT TO analyst USING (true);
CREATE POLICY operator_read ON account_tariffs FOR SELECT TO gw_operator USING (true);
CREATE POLICY portal_read ON account_tariffs FOR SELECT TO customer_portal
	USING (customer_account = gw_session_account());

ALTER TABLE tariffs OWNER TO gw_owner;
ALTER TABLE tariff_prices OWNER TO gw_owner;
ALTER TABLE tariff_tiers OWNER TO gw_owner;
ALTER TABLE tariff_vat OWNER TO gw_owner;
ALTER TABLE account_tariffs OWNER TO gw_owner;
ALTER FUNCTION gw_tariff_check() OWNER TO gw_owner;
ALTER FUNCTION gw_bill_lines_for(text[], date) OWNER TO gw_owner;
ALTER FUNCTION gw_bill_lines(text, date) OWNER TO gw_owner;
ALTER FUNCTION gw_bill_estimates(text[], date) OWNER TO gw_owner;
ALTER FUNCTION gw_bill_estimate(text, date) OWNER TO gw_owner;
REVOKE ALL ON tariffs, tariff_prices, tariff_tiers, tariff_vat, account_tariffs FROM PUBLIC;
REVOKE ALL ON FUNCTION gw_tariff_check(), gw_bill_lines_for(text[], date), gw_bill_lines(text, date),
	gw_bill_estimates(text[], date), gw_bill_estimate(text, date) FROM PUBLIC;
GRANT SELECT ON tariffs, tariff_prices, tariff_tiers, tariff_vat, account_tariffs
	TO analyst, gw_operator, customer_portal;
GRANT EXECUTE ON FUNCTION gw_bill_lines_for(text[], date), gw_bill_lines(text, date),
	gw_bill_estimates(text[], date), gw_bill_estimate(text, date)
	TO analyst, gw_operator, customer_portal;
