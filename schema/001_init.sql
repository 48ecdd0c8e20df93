-- SPDX-License-Identifier: MIT
-- 001_init: the first schema of the meter gateway's database.
--
-- Applied by `gwctl db migrate` (or tools/pgtmp.sh), inside one transaction
-- together with its row in schema_migrations; this file must not contain
-- BEGIN or COMMIT. docs/database.md describes the tables for analysts.
--
-- Conventions: energy is an exact integer in Wh (varh, VAh for the other
-- energy registers) in every table; kWh appear only in views. Times are
-- timestamptz (UTC on the wire); a "day" is a date in the gateway's local
-- time zone. The large tables (daily_registers, interval_readings,
-- meter_events) keep meter_id first in their keys, so one meter's history
-- is one index range.

-- The migration runner creates this table before it reads it; the same
-- definition here keeps the file complete on its own.
CREATE TABLE IF NOT EXISTS schema_migrations (
	version    int PRIMARY KEY,
	name       text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
);

-- Identifiers: what the gateway calls a meter or itself (GW_ID_MAX - 1).
CREATE DOMAIN gw_id AS text
	CHECK (length(VALUE) BETWEEN 1 AND 47);

-- Data concentrators. The uploader adds a row the first time a gateway
-- delivers a batch; the rest is filled in by the back office.
CREATE TABLE gateways (
	gateway_id  gw_id PRIMARY KEY,
	description text,
	timezone    text,            -- IANA zone of the gateway's days
	first_seen  timestamptz NOT NULL DEFAULT now(),
	last_seen   timestamptz NOT NULL DEFAULT now()
);

-- Meters. The uploader adds a meter the first time a batch mentions it and
-- keeps gateway_id, last_day and last_seen current; customer_account,
-- tariff_class, protocol and serial_number belong to the back office.
CREATE TABLE meters (
	meter_id         gw_id PRIMARY KEY,
	gateway_id       text REFERENCES gateways,
	customer_account text,
	tariff_class     text,
	protocol         text,        -- 'modbus-rtu', 'modbus-tcp', 'iec62056-21'
	serial_number    text,
	first_day        date,        -- first local day a batch reported
	last_day         date,        -- latest local day a batch reported
	first_seen       timestamptz NOT NULL DEFAULT now(),
	last_seen        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX meters_gateway_idx ON meters (gateway_id);
CREATE INDEX meters_customer_idx ON meters (customer_account);

-- One row per batch applied: the proof that a batch (gateway, day,
-- revision) was loaded, written in the same transaction as its rows. A
-- batch whose row exists is never applied again.
CREATE TABLE batch_ledger (
	gateway_id    text NOT NULL REFERENCES gateways,
	day           date NOT NULL,
	revision      int NOT NULL CHECK (revision >= 0),
	crc           bigint NOT NULL CHECK (crc BETWEEN 0 AND 4294967295),
	timezone      text,
	created_at    timestamptz,     -- when the gateway sealed the batch
	daily_rows    int NOT NULL,
	interval_rows int NOT NULL,
	applied_at    timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (gateway_id, day, revision)
);

-- How a day's value was derived, best first (see docs/database.md).
CREATE DOMAIN gw_quality AS text
	CHECK (VALUE IN ('measured', 'interpolated', 'estimated', 'incomplete'));

-- A meter's cumulative register over one local day: the register at the
-- day's two midnights and the consumption between them. A later revision
-- of the same day replaces the row (revision is the batch's).
CREATE TABLE daily_registers (
	meter_id        text NOT NULL REFERENCES meters,
	day             date NOT NULL,
	obis            text NOT NULL,    -- '1.8.0' import, '2.8.0' export, ...
	unit            text,             -- 'Wh', 'varh', 'VAh'
	start_value     bigint NOT NULL,  -- register at the day's first midnight
	end_value       bigint NOT NULL,  -- register at the next midnight
	consumption     bigint NOT NULL,  -- over the day, after wrap/replacement
	quality         gw_quality NOT NULL,
	readings        int NOT NULL CHECK (readings >= 0),
	minutes_missing int NOT NULL CHECK (minutes_missing BETWEEN 0 AND 1500),
	revision        int NOT NULL CHECK (revision >= 0),
	gateway_id      text NOT NULL REFERENCES gateways,
	loaded_at       timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (meter_id, day, obis)
);

-- Interval (load profile) readings as polled: value * 10^scale unit.
CREATE TABLE interval_readings (
	meter_id text NOT NULL REFERENCES meters,
	obis     text NOT NULL,
	ts       timestamptz NOT NULL,
	value    bigint NOT NULL,
	scale    smallint NOT NULL DEFAULT 0,
	unit     text,
	PRIMARY KEY (meter_id, obis, ts)
);

-- Things that happened to a meter: went offline, came back, was replaced,
-- its counter wrapped, its clock was off.
CREATE TABLE meter_events (
	meter_id   text NOT NULL REFERENCES meters,
	ts         timestamptz NOT NULL,
	kind       text NOT NULL,
	detail     text,
	gateway_id text REFERENCES gateways,
	PRIMARY KEY (meter_id, ts, kind)
);

-- Daily usage in kWh, one row per meter and local day: what analysts and
-- the customer portal read.
--   import_kwh  1.8.0 consumption / 1000, exactly, three decimals
--   export_kwh  2.8.0 likewise; NULL when the meter reported no 2.8.0
--               register that day (0.000 means it reported zero export)
--   quality     the worst quality of all the meter's registers that day
CREATE VIEW daily_usage AS
SELECT d.meter_id,
       d.day,
       (max(d.consumption) FILTER (WHERE d.obis = '1.8.0')::numeric / 1000)::numeric(19, 3) AS import_kwh,
       (max(d.consumption) FILTER (WHERE d.obis = '2.8.0')::numeric / 1000)::numeric(19, 3) AS export_kwh,
       (ARRAY['measured', 'interpolated', 'estimated', 'incomplete'])[
           max(array_position(ARRAY['measured', 'interpolated', 'estimated', 'incomplete'],
                              d.quality::text))]::text AS quality
FROM daily_registers d
GROUP BY d.meter_id, d.day;

COMMENT ON VIEW daily_usage IS
	'kWh per meter and local day; export_kwh NULL when no 2.8.0 register; quality = worst register quality';
