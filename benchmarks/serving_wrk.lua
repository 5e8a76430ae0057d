-- wrk script of the serving benchmark (benchmarks/serving.py): every request POSTs the same
-- JSON body, read from the file named by WRK_BODY_FILE; at the end one line starting with
-- "WRK_JSON " holds the counts and the latency percentiles (microseconds) as JSON.
--
--   WRK_BODY_FILE=body.json wrk -t1 -c16 -d10s -s benchmarks/serving_wrk.lua http://127.0.0.1:P/predict

local path = os.getenv("WRK_BODY_FILE")
if path == nil then
  error("set WRK_BODY_FILE to the file holding the request body")
end
local file = assert(io.open(path, "rb"))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, "read": %d, '
      .. '"write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, '
      .. '"max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean
  ))
end
