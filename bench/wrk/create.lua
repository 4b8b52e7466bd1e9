-- Scenario C of bench/run.sh: POST /user-group-memberships.xml with a new
-- (user, group) pair on every request, so every answer should be 201.
--
-- Usage: BENCH_WRK_DIR=bench/wrk wrk ... -s create.lua URL -- FIRST THREADS
--   FIRST    the first pair number this run may use
--   THREADS  wrk's -t, so that threads interleave without overlap
--
-- Pair number n maps to user 2 + (n mod 10000) and group 11 + (n div 10000):
-- groups 11..1000 are empty after the load, users 2..10001 are the imported
-- ones, so n < 9,900,000 never hits a loaded or an earlier pair. Thread t
-- sends n = FIRST + t, FIRST + t + THREADS, FIRST + t + 2*THREADS, ...; the
-- warm-up and the measured run get disjoint bands of pair numbers, and run.sh
-- checks afterwards that a run did not send more requests than its band holds
-- (past it, pairs would repeat and answer 422).
-- Answers are counted by status (statuses, read by report.lua's done()).

-- report.lua numbers the threads (tid) and prints the result line.
dofile(os.getenv("BENCH_WRK_DIR") .. "/report.lua")

local first, stride, n
statuses = {}

function init(args)
  first = tonumber(args[1])
  stride = tonumber(args[2])
  n = first + tid
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/xml"
end

function request()
  local k = n
  n = n + stride
  local user = 2 + (k % 10000)
  local group = 11 + math.floor(k / 10000)
  local body = string.format(
    '<user-group-membership><user-id type="integer">%d</user-id>' ..
    '<user-group-id type="integer">%d</user-group-id></user-group-membership>',
    user, group)
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
