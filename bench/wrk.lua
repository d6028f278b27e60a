-- wrk script for every scenario of bench/run.sh, chosen by BENCH_SCENARIO:
--   healthz, me (valid bearer token), verify (the same token, the
--   forward-auth check as a front runs it: an arbitrary URI), refresh (each connection chains the
--   refresh token of its previous response: every request is a legitimate
--   rotation), login, register (unique emails).
-- Run with as many threads as connections: one connection per thread, so
-- thread state is connection state. done() appends a JSON summary line
-- to BENCH_OUT.
local scenario = os.getenv("BENCH_SCENARIO")
local tokens_path = os.getenv("BENCH_TOKENS")
local out_path = os.getenv("BENCH_OUT")
local run_tag = os.getenv("BENCH_TAG") or "0"
local counter = 0

function setup(thread)
   counter = counter + 1
   thread:set("id", counter)
end

-- Line n of the tokens file (one per thread: "email refresh access").
local function line(n)
   local i = 0
   for l in io.lines(tokens_path) do
      i = i + 1
      if i == n then return l end
   end
end

function init(args)
   if scenario == "me" or scenario == "verify" or scenario == "refresh" or scenario == "login" then
      email, token, access = line(id):match("^(%S+) (%S+) (%S+)$")
   end
   seq = 0
end

local json = { ["Content-Type"] = "application/json" }

function request()
   if scenario == "healthz" then
      return wrk.format("GET", "/healthz")
   elseif scenario == "me" then
      return wrk.format("GET", "/auth/me", { Authorization = "Bearer " .. access })
   elseif scenario == "verify" then
      return wrk.format("GET", "/auth/verify", { Authorization = "Bearer " .. access,
         ["X-Original-URI"] = "/protected/app" })
   elseif scenario == "refresh" then
      return wrk.format("POST", "/auth/refresh", json,
         '{"refresh_token":"' .. token .. '"}')
   elseif scenario == "login" then
      return wrk.format("POST", "/auth/login", json,
         '{"email":"' .. email .. '","password":"bench-password-1"}')
   else
      seq = seq + 1
      return wrk.format("POST", "/auth/register", json,
         string.format('{"email":"r%s-%d-%d@bench.test","password":"bench-password-1"}',
            run_tag, id, seq))
   end
end

if scenario == "refresh" then
   function response(status, headers, body)
      if status == 200 then
         token = body:match('"refresh_token":"([^"]+)"') or token
      end
   end
end

function done(summary, latency, requests)
   local f = io.open(out_path, "a")
   f:write(string.format(
      '{"scenario":"%s","requests":%d,"duration_us":%d,"non2xx":%d,' ..
      '"socket_errors":%d,"p50_us":%d,"p99_us":%d}\n',
      scenario, summary.requests, summary.duration, summary.errors.status,
      summary.errors.connect + summary.errors.read + summary.errors.write +
      summary.errors.timeout,
      latency:percentile(50), latency:percentile(99)))
   f:close()
end
