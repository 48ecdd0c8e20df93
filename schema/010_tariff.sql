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
-- gw_bill_lines: the lines of an account's month-to-date bill, one per
-- sub-period (price list in force) and tier, all tiers of each list
-- (those without energy too). Empty when the caller sees no
-- meter_accounts row of the account (row-level security), or when the
-- account's tariff has no price list in force in the month.
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
CREATE FUNCTION gw_bill_lines(p_account text, p_through date)
RETURNS TABLE (period_start date, period_end date, through date, tariff text, currency text,
	       price_list date, sub_from date, sub_to date, tier smallint,
	       from_wh bigint, upto_wh bigint, wh bigint, price numeric, amount numeric)
LANGUAGE sql
STABLE
SECURITY INVOKER
AS $$
	WITH p AS (
		SELECT date_trunc('month', p_through::timestamp)::date AS ps,
		       (date_trunc('month', p_through::timestamp) + interval '1 month')::date - 1 AS pe
	),
	t AS (
		SELECT f.tariff, f.currency, f.amount_decimals, f.share_round_wh::numeric AS u, f.split
		FROM public.tariffs f
		WHERE f.tariff = coalesce(
			(SELECT x.tariff FROM public.account_tariffs x
			 WHERE x.customer_account = p_account AND x.valid_from <= p_through
			 ORDER BY x.valid_from DESC LIMIT 1),
			(SELECT d.tariff FROM public.tariffs d WHERE d.is_default))
		  AND EXISTS (SELECT FROM public.meter_accounts a WHERE a.customer_account = p_account)
	),
	-- Wh per day to date, over the account's meters on the days it held them.
	u AS (
		SELECT d.day, sum(d.import_wh) AS wh
		FROM p
		CROSS JOIN public.meter_accounts a
		JOIN public.meter_days d ON d.meter_id = a.meter_id
		     AND d.day >= greatest(a.valid_from, p.ps) AND d.day <= p_through
		     AND (a.valid_to IS NULL OR d.day < a.valid_to)
		WHERE a.customer_account = p_account
		GROUP BY d.day
	),
	s AS (
		SELECT t.*, p.ps, p.pe, l.valid_from AS price_list,
		       greatest(l.valid_from, p.ps) AS s_from,
		       least(coalesce(l.next_from - 1, p.pe), p.pe) AS s_to
		FROM t, p, LATERAL (
			SELECT v.valid_from, lead(v.valid_from) OVER (ORDER BY v.valid_from) AS next_from
			FROM public.tariff_prices v WHERE v.tariff = t.tariff) l
		WHERE l.valid_from <= p.pe AND (l.next_from IS NULL OR l.next_from > p.ps)
	),
	-- Each sub-period: the month's days before it (c0) and up to its
	-- end (c1) of dm, and its energy.
	e AS (
		SELECT s.*, (s.pe - s.ps + 1)::numeric AS dm,
		       (s.s_from - s.ps)::numeric AS c0, (s.s_to - s.ps + 1)::numeric AS c1,
		       (SELECT coalesce(sum(u.wh), 0) FROM u) AS a,
		       (SELECT coalesce(sum(u.wh), 0) FROM u WHERE u.day BETWEEN s.s_from AND s.s_to) AS own
		FROM s
	),
	w AS (
		SELECT e.*,
		       CASE WHEN e.split = 'actual' THEN e.own
			    ELSE (CASE WHEN e.c1 = e.dm THEN e.a ELSE round(e.a * e.c1 / e.dm / e.u) * e.u END)
			       - (CASE WHEN e.c0 = e.dm THEN e.a ELSE round(e.a * e.c0 / e.dm / e.u) * e.u END)
		       END AS s_wh
		FROM e
	),
	-- The tiers of each sub-period with their limits there (Wh).
	k AS (
		SELECT w.*, g.tier, g.price,
		       (CASE WHEN w.c1 = w.dm THEN g.lim ELSE round(g.lim * w.c1 / w.dm / w.u) * w.u END)
		     - (CASE WHEN w.c0 = w.dm THEN g.lim ELSE round(g.lim * w.c0 / w.dm / w.u) * w.u END) AS upto,
		       (CASE WHEN w.c1 = w.dm THEN g.prev ELSE round(g.prev * w.c1 / w.dm / w.u) * w.u END)
		     - (CASE WHEN w.c0 = w.dm THEN g.prev ELSE round(g.prev * w.c0 / w.dm / w.u) * w.u END) AS low
		FROM w
		JOIN (SELECT r.tariff, r.valid_from, r.tier, r.price, r.upto_kwh::numeric * 1000 AS lim,
			     coalesce(lag(r.upto_kwh) OVER (PARTITION BY r.tariff, r.valid_from ORDER BY r.tier), 0)::numeric * 1000 AS prev
		      FROM public.tariff_tiers r) g
		  ON g.tariff = w.tariff AND g.valid_from = w.price_list
	)
	SELECT k.ps, k.pe, p_through, k.tariff, k.currency, k.price_list, k.s_from, k.s_to, k.tier,
	       k.low::bigint, k.upto::bigint,
	       greatest(0, least(k.s_wh, coalesce(k.upto, k.s_wh)) - k.low)::bigint AS wh,
	       k.price,
	       round(greatest(0, least(k.s_wh, coalesce(k.upto, k.s_wh)) - k.low) * k.price / 1000,
		     k.amount_decimals)
	FROM k
	ORDER BY k.s_from, k.tier
$$;
ALTER FUNCTION gw_bill_lines(text, date) RESET ALL;

COMMENT ON FUNCTION gw_bill_lines(text, date) IS
	'lines of the month-to-date bill of an account: per price list in force in the month and tier, the tier''s limits there (Wh), its energy and amount';

-- gw_bill_estimate: one row, the account's month-to-date bill; no row when
-- the caller sees no meter_accounts row of the account.
--   import_wh       the account's energy from period_start to through
--   amount          the sum of the lines (without VAT); vat = amount x
--                   the rate in force on period_end, rounded; total = both
--   days_estimated  days to date on which one of the account's meters
--                   has a day of quality estimated or incomplete
--   days_missing    days to date on which the account held a meter that
--                   has no day (no import) in meter_days
--   tier_limits     'month': the month's limits (see gw_bill_lines)
CREATE FUNCTION gw_bill_estimate(p_account text, p_through date)
RETURNS TABLE (period_start date, period_end date, through date, import_wh bigint,
	       amount numeric, vat numeric, total numeric, currency text, tariff text,
	       days_estimated integer, days_missing integer,
	       vat_rate numeric, price_lists integer, days_with_data integer, tier_limits text)
LANGUAGE sql
STABLE
SECURITY INVOKER
AS $$
	WITH l AS (SELECT * FROM public.gw_bill_lines(p_account, p_through)),
	b AS (
		SELECT l.period_start, l.period_end, l.tariff, l.currency,
		       sum(l.wh)::bigint AS wh, sum(l.amount) AS amount,
		       count(DISTINCT l.price_list)::int AS lists
		FROM l
		GROUP BY l.period_start, l.period_end, l.tariff, l.currency
	),
	-- The account's meter-days to date: those it held, and what meter_days has.
	h AS (
		SELECT g.day, d.import_wh, d.quality
		FROM b
		CROSS JOIN public.meter_accounts a
		CROSS JOIN LATERAL (SELECT greatest(a.valid_from, b.period_start) + i AS day
				    FROM generate_series(0, least(coalesce(a.valid_to - 1, p_through), p_through)
							    - greatest(a.valid_from, b.period_start)) i) g
		LEFT JOIN public.meter_days d ON d.meter_id = a.meter_id AND d.day = g.day
		WHERE a.customer_account = p_account
	),
	c AS (
		SELECT coalesce(sum(h.import_wh), 0)::bigint AS import_wh,
		       count(DISTINCT h.day) FILTER (WHERE h.quality IN ('estimated', 'incomplete'))::int AS est,
		       count(DISTINCT h.day) FILTER (WHERE h.import_wh IS NULL)::int AS missing,
		       count(DISTINCT h.day) FILTER (WHERE h.import_wh IS NOT NULL)::int AS with_data
		FROM h
	)
	SELECT b.period_start, b.period_end, p_through, c.import_wh, b.amount,
	       round(b.amount * v.rate, f.amount_decimals),
	       b.amount + round(b.amount * v.rate, f.amount_decimals),
	       b.currency, b.tariff, c.est, c.missing, v.rate, b.lists, c.with_data, 'month'::text
	FROM b
	CROSS JOIN c
	JOIN public.tariffs f ON f.tariff = b.tariff
	LEFT JOIN LATERAL (SELECT x.rate FROM public.tariff_vat x
			   WHERE x.tariff = b.tariff AND x.valid_from <= b.period_end
			   ORDER BY x.valid_from DESC LIMIT 1) v ON true
$$;
ALTER FUNCTION gw_bill_estimate(text, date) RESET ALL;

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
ALTER FUNCTION gw_bill_lines(text, date) OWNER TO gw_owner;
ALTER FUNCTION gw_bill_estimate(text, date) OWNER TO gw_owner;
REVOKE ALL ON tariffs, tariff_prices, tariff_tiers, tariff_vat, account_tariffs FROM PUBLIC;
REVOKE ALL ON FUNCTION gw_tariff_check(), gw_bill_lines(text, date), gw_bill_estimate(text, date) FROM PUBLIC;
GRANT SELECT ON tariffs, tariff_prices, tariff_tiers, tariff_vat, account_tariffs
	TO analyst, gw_operator, customer_portal;
GRANT EXECUTE ON FUNCTION gw_bill_lines(text, date), gw_bill_estimate(text, date)
	TO analyst, gw_operator, customer_portal;
