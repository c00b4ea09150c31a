-- wrk script for bench/run.sh: prints the status and body of the first
-- response (sn_demo's GET /api/status names the TLS version and suite), to
-- check that wrk negotiates what OPENSSL_CONF asks for.
local shown = false

response = function(status, headers, body)
  if not shown then
    shown = true
    io.write("probe: ", status, " ", body, "\n")
  end
end
