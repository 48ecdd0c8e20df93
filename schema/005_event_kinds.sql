-- SPDX-License-Identifier: MIT
-- 005_event_kinds: two more kinds of meter event.
--
--   bad_value  a register value that cannot be true: a float that decodes
--              to Inf, a value beyond the register's physical range or
--              near the int64 limits. The value is not stored as a
--              reading; the event names the register and what was read.
--   long_gap   a meter was silent for longer than the gateway's revision
--              window: the energy it counted in that time could not be
--              placed on days; the event's detail says how much.
ALTER TABLE meter_events DROP CONSTRAINT meter_events_kind_check;
ALTER TABLE meter_events ADD CONSTRAINT meter_events_kind_check CHECK (kind IN (
	'offline', 'online', 'counter_reset', 'meter_replaced', 'clock_drift',
	'power_outage', 'counter_wrap', 'jump', 'bad_value', 'long_gap'));
COMMENT ON TABLE meter_events IS
	'things that happened to a meter: offline, online, counter_reset, meter_replaced, clock_drift, power_outage, counter_wrap, jump, bad_value, long_gap';
