-- SPDX-License-Identifier: MIT
-- 009_gateway_id_case: gateway ids that differ only in case.
--
-- A gateway id is compared exactly everywhere (batch_ledger, meter
-- assignments, the role a gateway loads with). A gateway configured as
-- `sub-042` and registered as `SUB-042` therefore had every upload refused
-- with "role ... may not load batches of gateway sub-042", which did not
-- say why. Ids stay case-sensitive (changing that would change the keys
-- of every stored batch); instead:
--
--   * gw_register_gateway() refuses an id that differs only in case from
--     one already registered, naming it. Two such ids are always a typing
--     mistake, never two gateways.
--   * the refusal of a batch whose gateway's role does not match names the
--     registered ids that differ from the batch's only in case.
--
-- Ids registered before this migration that differ only in case are left
-- as they are (the operator's to merge); the migration warns about them.

DO $$
DECLARE
	r record;
BEGIN
	FOR r IN SELECT lower(gateway_id) AS id, string_agg(gateway_id, ', ' ORDER BY gateway_id) AS ids
		 FROM gateways GROUP BY lower(gateway_id) HAVING count(*) > 1 LOOP
		RAISE WARNING 'gateway ids % differ only in case; batches load only under the id the gateway is configured with',
			r.ids;
	END LOOP;
END
$$;

-- The registered gateway ids other than p_gateway that equal it but for
-- case, comma-separated; NULL when there are none.
CREATE FUNCTION gw_gateway_case_twins(p_gateway text)
RETURNS text
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
	SELECT string_agg(g.gateway_id, ', ' ORDER BY g.gateway_id)
	FROM gateways g
	WHERE lower(g.gateway_id) = lower(p_gateway) AND g.gateway_id <> p_gateway
$$;

-- 006's registration, with ids that differ only in case refused.
CREATE OR REPLACE FUNCTION gw_register_gateway(p_gateway text, p_role name, p_timezone text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
DECLARE
	v_twins text := gw_gateway_case_twins(p_gateway);
BEGIN
	IF v_twins IS NOT NULL THEN
		RAISE EXCEPTION 'gateway id % differs only in case from the registered %; gateway ids are case-sensitive',
			p_gateway, v_twins
			USING ERRCODE = 'unique_violation',
			      HINT = 'use the id exactly as [gateway] id in the gateway''s gateway.ini spells it';
	END IF;
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

-- The refusal in gw_begin_batch() names the ids that differ only in case.
-- The function is edited in place rather than restated here, so that this
-- migration keeps whatever another migration changed in it; it fails if
-- the refusal is not found as 006 wrote it.
DO $$
DECLARE
	v_old constant text := $o$RAISE EXCEPTION 'role % may not load batches of gateway %', session_user, h.meter_id$o$;
	v_new constant text := $n$RAISE EXCEPTION '%', format('role %s may not load batches of gateway %s%s', session_user, h.meter_id,
				coalesce(' (registered: ' || gw_gateway_case_twins(h.meter_id)
					 || ', which differs only in case; gateway ids are case-sensitive)', ''))$n$;
	v_def text := pg_get_functiondef('gw_begin_batch(boolean)'::regprocedure);
BEGIN
	IF position(v_old IN v_def) = 0 THEN
		RAISE EXCEPTION '009: the refusal of gw_begin_batch() is not as 006 wrote it';
	END IF;
	EXECUTE replace(v_def, v_old, v_new);
END
$$;

ALTER FUNCTION gw_gateway_case_twins(text) OWNER TO gw_owner;
ALTER FUNCTION gw_register_gateway(text, name, text) OWNER TO gw_owner;
REVOKE ALL ON FUNCTION gw_gateway_case_twins(text) FROM PUBLIC;
