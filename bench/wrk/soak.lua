-- The soak load of bench/soak.sh: a mix of every kind of request, each wrk
-- connection cycling through the same pattern of 20 requests:
--   8 lists with includes (a window that moves through the data),
--   4 reads of one membership, 4 creates (a new pair each time),
--   2 deletes (of memberships this thread created), 2 bad requests (a
--   malformed body, an unknown include, a wrong token, a bad id, in turn).
-- Answers are counted by status; report.lua prints them at the end.
--
-- Usage: BENCH_WRK_DIR=bench/wrk wrk ... -s soak.lua URL -- TOKEN THREADS
-- Data as loaded by soak.sh: users 2..1001, groups 1..100, pairs of groups
-- 11..100 free for creates.

-- report.lua numbers the threads (tid) and prints the result line.
dofile(os.getenv("BENCH_WRK_DIR") .. "/report.lua")

statuses = {}
local token, stride
local step, pair, created, bad = 0, 0, {}, 0


function init(args)
  token = args[1]
  stride = tonumber(args[2])
  pair = tid
end

local function req(method, path, body, extra)
  local headers = { ["X-API-KEY"] = token }
  if body then headers["Content-Type"] = "application/xml" end
  if extra then for k, v in pairs(extra) do headers[k] = v end end
  return wrk.format(method, path, headers, body)
end

local function membership(user, group)
  return string.format(
    '<user-group-membership><user-id type="integer">%d</user-id>' ..
    '<user-group-id type="integer">%d</user-group-id></user-group-membership>',
    user, group)
end

function request()
  step = step + 1
  local k = step % 20
  if k < 8 then

    local start = 1 + (step * 37) % 9000
    return req("GET", string.format(
      "/user-group-memberships.xml?include=users,user_groups,timestamps&start=%d&end=%d",
      start, start + 49))
  elseif k < 12 then

    return req("GET", string.format("/user-group-memberships/%d.xml", 1 + (step * 7919) % 10000))
  elseif k < 16 then

    -- Pairs wrap around after 90,000 per thread stride: by then the
    -- thread's deletes have freed many of them, and a pair still taken is
    -- an honest 422.
    local n = pair % 90000
    pair = pair + stride
    return req("POST", "/user-group-memberships.xml",
      membership(2 + (n % 1000), 11 + math.floor(n / 1000)))
  elseif k < 18 then

    local id = table.remove(created, 1)
    if id then
      return req("DELETE", string.format("/user-group-memberships/%d.xml", id))
    end
    return req("DELETE", "/user-group-memberships/999999999.xml")
  else

    bad = bad + 1
    local b = bad % 4
    if b == 0 then
      return req("POST", "/user-group-memberships.xml", "<user-group-membership><user-id>")
    elseif b == 1 then
      return req("GET", "/user-group-memberships.xml?include=friends")
    elseif b == 2 then
      return wrk.format("GET", "/me.xml", { ["X-API-KEY"] = "not-a-token" })
    else
      return req("GET", "/user-group-memberships/abc.xml")
    end
  end
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status == 201 then
    local id = string.match(body, '<id type="integer">(%d+)</id>')
    if id and #created < 1000 then table.insert(created, tonumber(id)) end
  end
end
