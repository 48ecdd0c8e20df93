-- SPDX-License-Identifier: MIT
-- 012_portal_spans: the customer portal's row-level security on
-- meter_days, the same rows at a fraction of the work.
--
-- 007's policy let a portal session see a meter's day when a row of
-- meter_accounts gave that meter to the session's account on that day: an
-- EXISTS looked up in meter_accounts for every row of meter_days read (a
-- customer's year: 730 index scans of meter_accounts, 97 % of the query's
-- buffers). The account's spans are now computed once per query (an
-- initplan): gw_portal_spans() maps each of the account's meters to the
-- days it held it, as a datemultirange of [valid_from, valid_to) spans,
-- and each row is checked against its meter's entry in memory. The rows
-- seen are exactly the same: a day inside one of the account's spans of
-- that meter (tests/integration/portal.sh: a meter changing hands, each
-- account sees its own days only).

CREATE FUNCTION gw_portal_spans() RETURNS jsonb
LANGUAGE sql
STABLE
SET search_path = pg_catalog, public
AS $$
	SELECT coalesce(jsonb_object_agg(s.meter_id, s.spans::text), '{}')
	FROM (SELECT a.meter_id, range_agg(daterange(a.valid_from, a.valid_to, '[)')) AS spans
	      FROM meter_accounts a
	      WHERE a.customer_account = gw_session_account()
	      GROUP BY a.meter_id) s
$$;
COMMENT ON FUNCTION gw_portal_spans() IS
	'the portal session''s meters, each mapped to the days its account held it (datemultirange text), for meter_days'' row-level security';
ALTER FUNCTION gw_portal_spans() OWNER TO gw_owner;
REVOKE ALL ON FUNCTION gw_portal_spans() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION gw_portal_spans() TO customer_portal;

ALTER POLICY portal_read ON meter_days
	USING (meter_id = ANY ((SELECT gw_portal_meters())::text[])
	       AND day <@ (((SELECT gw_portal_spans()) ->> meter_id)::datemultirange));
