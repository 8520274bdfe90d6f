-- GET /v1/complaints?limit=BENCH_PAGE (50 by default): the newest page, as an agent's queue screen asks for it.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local path = "/v1/complaints?limit=" .. (os.getenv("BENCH_PAGE") or "50")

function request()
  return wrk.format("GET", path, read_headers)
end
