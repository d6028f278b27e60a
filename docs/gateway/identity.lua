-- identity.lua: mod_magnet script for a path that auth-svc's /auth/verify
-- protects as a lighttpd FastCGI authorizer (docs/gateway.md). It runs on
-- every pass of a request (magnet.attract-physical-path-to):
--  1. every request header that names an identity is removed, whatever
--     its case and whether it spells '-' as '_' (lighttpd hands both
--     X-User-Id and X_User_Id to a FastCGI backend as HTTP_X_USER_ID):
--     the protected service never sees an identity the client claimed;
--  2. the identity the authorizer approved (its Variable-* headers, which
--     lighttpd keeps as request environment) is copied into request
--     headers of the canonical names: what a mod_proxy backend receives.
--     Before the authorizer ran there is none, and nothing is copied.
local names = {
  "X-User-Id", "X-User-Email", "X-Session-Id", "Remote-User",
  "Remote-Email", "X-Auth-Request-User", "X-Auth-Request-Email",
}
-- Further names other gateways use for an identity: only ever removed.
local also = { "x-forwarded-user", "x-forwarded-email", "x-remote-user",
  "x-remote-email", "x-forwarded-preferred-username" }

local identity = {}
for _, n in ipairs(names) do identity[n:lower()] = true end
for _, n in ipairs(also) do identity[n] = true end

local r = lighty.r
local drop = {}
for k, _ in pairs(r.req_header) do
  local n = k:lower():gsub("_", "-")
  if identity[n] or n:find("^x%-auth%-request%-") then
    drop[#drop + 1] = k
  end
end
for _, k in ipairs(drop) do
  r.req_header[k] = nil
end
for _, n in ipairs(names) do
  local v = r.req_env[n]
  if v ~= nil and v ~= "" then
    r.req_header[n] = v
  end
end
return 0
