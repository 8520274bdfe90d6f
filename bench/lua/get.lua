-- GET /v1/complaints/{id}, the id picked at random from the file BENCH_IDS, so reads spread over the table.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

function init(args)
  load_ids()
end

request = get_request
