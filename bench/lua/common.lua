-- Shared by the wrk scripts: realistic complaint bodies, the ids to read, and a JSON summary for bench/run.py.
-- Settings come from the environment: BENCH_KEY (API key), BENCH_IDS (file of complaint ids, one a line).

math.randomseed(os.time() + math.floor(os.clock() * 1000000))

local key = os.getenv("BENCH_KEY") or ""
read_headers = { ["Authorization"] = "Bearer " .. key, ["Accept"] = "application/json" }
write_headers = {
  ["Authorization"] = "Bearer " .. key,
  ["X-Actor"] = "agent-0042",
  ["Content-Type"] = "application/json",
  ["Accept"] = "application/json",
}

local names = { "张三", "李四", "王芳", "刘洋", "陈静", "杨帆", "赵敏", "黄磊", "周杰", "吴倩", "欧阳娜娜", "林小红" }
local channels = { "phone", "phone", "phone", "phone", "web", "web", "sms", "email", "in_person", "letter" }
local stores = { "SZ-FT-012", "SZ-LH-003", "SZ-NS-021", "SZ-BA-008", "GZ-TH-007", "SH-PD-015", "BJ-CY-031" }
local mobile_prefixes = { "130", "135", "138", "139", "150", "158", "177", "186", "189", "199" }
local cases = {
  { "service_attitude", "店员态度恶劣，拒绝为我办理退货。", "要求店员道歉并办理退货" },
  { "product_quality", "购买的电饭煲使用三天就无法加热，门店说要等厂家检测，至今没有答复。", "要求更换新机或全额退款" },
  { "billing", "会员卡在同一天被重复扣费两次，共计多扣了256元，收银员说不是他们的问题。", "要求退还多扣的费用" },
  { "delivery", "承诺当日送达的冰箱延迟了三天才送到，外包装破损，送货员态度也很差。", "要求赔偿并上门检查商品" },
  { "facilities", "门店停车场照明损坏，晚上取车时摔倒受伤，保安说已经坏了一周。", "要求尽快修复照明并承担医药费" },
  { "service_quality", "预约了上午十点的安装服务，师傅下午四点才到，安装后空调漏水。", "要求重新安装并赔偿损失" },
}

local function pick(list)
  return list[math.random(#list)]
end

local function phone()
  local prefix = pick(mobile_prefixes)
  local middle = string.format("%04d", math.random(0, 9999))
  local last = string.format("%04d", math.random(0, 9999))
  local style = math.random(3)
  if style == 1 then
    return prefix .. middle .. last
  elseif style == 2 then
    return prefix .. " " .. middle .. " " .. last
  end
  return "+86 " .. prefix .. "-" .. middle .. "-" .. last
end

-- A complaint as a call center's CRM registers it (the shape of tests/conftest.py complaint_body).
function complaint_body()
  local case = pick(cases)
  return string.format(
    '{"complainant": {"name": "%s", "phone": "%s"}, "channel": "%s", "category": "%s", "store_id": "%s", '
      .. '"description": "%s", "customer_request": "%s", "external_ref": "CRM-2026-%06d"}',
    pick(names), phone(), pick(channels), case[1], pick(stores), case[2], case[3], math.random(0, 999999)
  )
end

function post_request()
  return wrk.format("POST", "/v1/complaints", write_headers, complaint_body())
end

local ids = nil

function load_ids()
  local path = os.getenv("BENCH_IDS")
  ids = {}
  if path == nil then
    return
  end
  for line in io.lines(path) do
    if #line > 0 then
      ids[#ids + 1] = line
    end
  end
end

function get_request()
  return wrk.format("GET", "/v1/complaints/" .. ids[math.random(#ids)], read_headers)
end

-- The ids in the file's order (0-based), for the scripts that take them in turn.
function id_count()
  return #ids
end

function id_at(i)
  return ids[i + 1]
end

-- For bench/run.py: one line of JSON (latencies in microseconds), then the latency distribution as
-- "percentile:microseconds" pairs (every 0.5% up to 98%, every 0.1% above), so that runs can be merged.
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, '
      .. '"connect_errors": %d, "read_errors": %d, "write_errors": %d, "status_errors": %d, "timeouts": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout
  ))
  local points = {}
  if summary.requests > 0 then
    for tenth = 5, 1000 do
      if tenth > 980 or tenth % 5 == 0 then
        points[#points + 1] = string.format("%.1f:%d", tenth / 10, latency:percentile(tenth / 10))
      end
    end
  end
  io.write("BENCH_QUANTILES " .. table.concat(points, ",") .. "\n")
end
