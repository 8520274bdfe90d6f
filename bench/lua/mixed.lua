-- The memory run: GETs of random ids (BENCH_IDS) mixed with registrations, BENCH_GET_PERCENT of them GETs; the
-- thread stops after BENCH_LIMIT responses and says so (run wrk with one thread so the count is the server's;
-- bench/run.py then interrupts wrk, whose main thread would otherwise sleep out the duration).
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local limit = tonumber(os.getenv("BENCH_LIMIT") or "1000")
local get_percent = tonumber(os.getenv("BENCH_GET_PERCENT") or "90")
local responses = 0

function init(args)
  load_ids()
end

function request()
  if math.random(100) <= get_percent then
    return get_request()
  end
  return post_request()
end

function response(status, headers, body)
  responses = responses + 1
  if responses == limit then
    wrk.thread:stop()
    io.write("BENCH_STOPPED\n")
    io.flush()
  end
end
