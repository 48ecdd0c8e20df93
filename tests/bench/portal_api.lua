-- SPDX-License-Identifier: MIT
-- tests/bench/portal_api.lua - wrk's script for tests/bench/portal_api.sh:
-- each request asks for the daily usage of one account over FROM..TO with
-- that account's own bearer token, the account picked at random.
--
--   wrk -s portal_api.lua URL -- TOKENS-FILE FROM TO [RATE CONNECTIONS]
--
-- With RATE (requests/s in all) and CONNECTIONS (wrk's -c), each
-- connection waits a random 0 to 2 x CONNECTIONS / RATE seconds before
-- each request (CONNECTIONS / RATE on average): a load below what the
-- service can take, at which the latency is the service's own and not
-- the time a request queues behind the other connections' requests.
-- TOKENS-FILE has one "ACCOUNT TOKEN" a line. done() prints one line:
--   wrk: requests N seconds S rps R p50_ms A p99_ms B max_ms C non2xx E errors F

local entries = {}
local from, to
local counter = 0
local gap_ms

function setup(thread)
	counter = counter + 1
	thread:set("seed", counter)
end

function init(args)
	from, to = args[2], args[3]
	for line in io.lines(args[1]) do
		local a, t = line:match("^(%S+) (%S+)$")
		if a then
			entries[#entries + 1] = { path = "/v1/accounts/" .. a .. "/daily?from=" .. from .. "&to=" .. to,
						  headers = { ["Authorization"] = "Bearer " .. t } }
		end
	end
	math.randomseed(os.time() * 100 + (seed or 0))
	if args[4] and args[5] then
		gap_ms = tonumber(args[5]) * 1000 / tonumber(args[4])
	end
end

function delay()
	if gap_ms then
		return math.random() * 2 * gap_ms
	end
	return 0
end

function request()
	local e = entries[math.random(#entries)]
	return wrk.format("GET", e.path, e.headers)
end

function done(summary, latency, requests)
	local s = summary.duration / 1e6
	local e = summary.errors
	io.write(string.format("wrk: requests %d seconds %.3f rps %.1f p50_ms %.2f p99_ms %.2f max_ms %.2f non2xx %d errors %d\n",
		summary.requests, s, summary.requests / s, latency:percentile(50) / 1000,
		latency:percentile(99) / 1000, latency.max / 1000, e.status,
		e.connect + e.read + e.write + e.timeout))
end
