-- POST /v1/complaints/{id}/BENCH_MOVE with the JSON body BENCH_BODY, as BENCH_ACTOR (X-Actor, percent-encoded),
-- taking the ids of the file BENCH_IDS in turn from BENCH_OFFSET (0-based), so that concurrent requests never
-- share a complaint. BENCH_WRAP=1 starts over at the first id when the file is used up (a move that may be made
-- again, or the bare app); otherwise a move that uses its complaint up (investigate) repeats the last id, which
-- is refused and counted as a failed request: bench/run.py hands out enough ids that this does not happen.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local move = os.getenv("BENCH_MOVE")
local body = os.getenv("BENCH_BODY") or "{}"
local offset = tonumber(os.getenv("BENCH_OFFSET") or "0")
local wrap = os.getenv("BENCH_WRAP") == "1"
local headers = {
  ["Authorization"] = "Bearer " .. (os.getenv("BENCH_KEY") or ""),
  ["X-Actor"] = os.getenv("BENCH_ACTOR") or "handler-07",
  ["Content-Type"] = "application/json",
  ["Accept"] = "application/json",
}
local sent = 0

function init(args)
  load_ids()
end

function request()
  local i = offset + sent
  sent = sent + 1
  if wrap then
    i = i % id_count()
  elseif i >= id_count() then
    i = id_count() - 1
  end
  return wrk.format("POST", "/v1/complaints/" .. id_at(i) .. "/" .. move, headers, body)
end
