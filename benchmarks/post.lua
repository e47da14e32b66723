-- wrk script: POST the session body, each request with the next recruiter's bearer token
-- (rotating through many recruiters, as real traffic does), then print a JSON summary line
-- (run.py parses the line starting with "BENCH_JSON ").
-- BENCH_TOKENS_FILE (one JWT a line) and BENCH_BODY_FILE come from run.py.
local file = assert(io.open(os.getenv("BENCH_BODY_FILE"), "rb"))
local body = file:read("*a")
file:close()

local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS_FILE")) do
  if #line > 0 then tokens[#tokens + 1] = "Bearer " .. line end
end
local headers = { ["Content-Type"] = "application/json" }
local next_token = math.random(#tokens)
-- BENCH_IDEMPOTENCY=1 (run.py --idempotency): a new Idempotency-Key on every request.
local keyed = os.getenv("BENCH_IDEMPOTENCY") == "1"
local key_prefix = string.format("bench-%d-%d-", os.time(), math.random(1000000000))
local sent = 0

request = function()
  next_token = next_token % #tokens + 1
  headers["Authorization"] = tokens[next_token]
  if keyed then
    sent = sent + 1
    headers["Idempotency-Key"] = key_prefix .. sent
  end
  return wrk.format("POST", nil, headers, body)
end

done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"non2xx":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,' ..
    '"timeouts":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, errors.status, errors.connect, errors.read,
    errors.write, errors.timeout))
end
