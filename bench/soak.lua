-- wrk script for bench/soak.sh: every connection cycles through a mix of
-- sn_demo's routes, so that a long run exercises routing, JSON, echo bodies
-- (a 3 KB POST: receive buffer growth), static files with and without gzip,
-- and the per-connection buffers that are freed when idle.
local body = string.rep("soak-body-0123456789abcdef\n", 111) -- 2997 bytes
local reqs
local i = 0

init = function(args)
  reqs = {
    wrk.format("GET", "/api/hello/soak"),
    wrk.format("GET", "/api/status"),
    wrk.format("POST", "/api/echo", {["Content-Type"] = "application/octet-stream"}, body),
    wrk.format("GET", "/style.css"),
    wrk.format("GET", "/app.js", {["Accept-Encoding"] = "gzip"}),
    wrk.format("GET", "/"),
  }
end

request = function()
  i = i % #reqs + 1
  return reqs[i]
end
