-- Shared by every wrk scenario of bench/run.sh: at the end of a run, print one
-- machine-readable line that run.sh parses (wrk's own text output is only for
-- people). Times are in microseconds, as wrk gives them.
--
--   BENCH_RESULT requests=N duration_us=N connect=N read=N write=N status=N
--                timeout=N p50_us=N p99_us=N statuses=CODE:N,...
--
-- `status` is wrk's count of answers with a status of 400 or more.
-- `statuses` is filled only by scripts that count answers in response()
-- (create.lua); plain GET scenarios leave it empty so that wrk keeps its fast
-- path (a script without request()/response() lets wrk send a prebuilt
-- request and skip parsing headers in Lua).

local threads = {}

-- Each thread gets its number (0, 1, ...) as the global `tid`, which
-- create.lua and soak.lua use to keep their threads' pairs apart.
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  local statuses = {}
  for _, t in ipairs(threads) do
    local counted = t:get("statuses")
    if type(counted) == "table" then
      for code, n in pairs(counted) do
        statuses[code] = (statuses[code] or 0) + n
      end
    end
  end
  local codes = {}
  for code, _ in pairs(statuses) do table.insert(codes, code) end
  table.sort(codes)
  local parts = {}
  for _, code in ipairs(codes) do
    table.insert(parts, code .. ":" .. statuses[code])
  end
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT requests=%d duration_us=%d connect=%d read=%d write=%d status=%d timeout=%d p50_us=%d p99_us=%d statuses=%s\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(99),
    table.concat(parts, ",")))
end
