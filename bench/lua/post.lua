-- POST /v1/complaints with a varied, realistic body (the same script for tousu and the bare app).
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

request = post_request
