"""Bulk seeding of complaints for the read benchmark, in SQL (INSERT ... SELECT generate_series).

Rows match the real schema and its constraints: time-ordered version-7 UUIDs, unique numbers TS-YYYYMMDD-NNNN
counted per local day with complaint_number_counters kept in step, consistent columns for each state (accepted,
investigating, resolved after an approved refund, revisited) and their history entries. Complaint ``n`` (1-based)
is received on local day ``n // PER_DAY`` after a start day in the past, so that seeding in steps only appends
and registrations made today never collide with a seeded number.
"""

from __future__ import annotations

import psycopg

PER_DAY = 200
DAYS_BACK = 1_000  # the first seeded day, before today; 100,000 complaints fill 500 days

# Parameters: first and last row number, time zone, the API key id the history names.
COMPLAINTS = """
WITH params AS (
    SELECT (now() AT TIME ZONE %(tz)s)::date - %(days_back)s::int AS first_day
),
rows AS (
    SELECT n,
           p.first_day + ((n - 1) / %(per_day)s::int)::int AS day,
           (n - 1) %% %(per_day)s::int + 1 AS seq,
           ((p.first_day + ((n - 1) / %(per_day)s::int)::int + time '09:00')
               + ((n - 1) %% %(per_day)s::int) * interval '2 minutes') AT TIME ZONE %(tz)s AS at,
           (n %% 4) AS stage
    FROM generate_series(%(first)s::int, %(last)s::int) AS n, params p
),
shaped AS (
    SELECT r.*,
           (lpad(to_hex((extract(epoch FROM r.at) * 1000)::bigint), 12, '0')
               || '7' || lpad(to_hex((random() * 4095)::int), 3, '0')
               || to_hex(8 + (random() * 3)::int) || lpad(to_hex((random() * 4095)::int), 3, '0')
               || lpad(to_hex((random() * 281474976710655)::bigint), 12, '0'))::uuid AS id,
           (ARRAY['张三', '李四', '王芳', '刘洋', '陈静', '杨帆', '赵敏', '黄磊', '周杰', '吴倩'])[1 + n %% 10] AS name,
           (ARRAY['130', '135', '138', '139', '150', '158', '177', '186', '189', '199'])[1 + (n / 10) %% 10]
               || lpad(((n::bigint * 48271) %% 100000000)::text, 8, '0') AS phone,
           (ARRAY['phone', 'phone', 'phone', 'web', 'sms', 'email', 'in_person', 'letter'])[1 + n %% 8] AS channel,
           (ARRAY['service_attitude', 'service_quality', 'product_quality', 'billing', 'facilities', 'delivery',
                  'incident', 'other'])[1 + (n / 7) %% 8] AS category,
           (ARRAY['SZ-FT-', 'SZ-LH-', 'SZ-NS-', 'GZ-TH-', 'SH-PD-'])[1 + n %% 5] || lpad((1 + n %% 37)::text, 3, '0')
               AS store,
           (ARRAY['店员态度恶劣，拒绝为我办理退货。',
                  '购买的电饭煲使用三天就无法加热，门店说要等厂家检测，至今没有答复。',
                  '会员卡在同一天被重复扣费两次，共计多扣了256元。',
                  '承诺当日送达的冰箱延迟了三天才送到，外包装破损。',
                  '预约了上午十点的安装服务，师傅下午四点才到，安装后空调漏水。'])[1 + n %% 5] AS description
    FROM rows r
),
inserted AS (
    INSERT INTO complaints (
        id, number, state, version, complainant_name, complainant_phone, complainant_email, customer_ref, channel,
        category, priority, store_id, department, description, customer_request, external_ref, received_at, owner,
        responsible_store_id, responsible_department, dispatched_at, rejection_reason, remedy_kind, remedy_amount,
        remedy_description, reply_text, proposed_by, approved_by, responsibility, satisfaction, reopen_count,
        accepted_at, rejected_at, investigating_at, awaiting_approval_at, resolved_at, revisited_at, reopened_at,
        updated_at)
    SELECT id,
           'TS-' || to_char(day, 'YYYYMMDD') || '-' || lpad(seq::text, 4, '0'),
           (ARRAY['accepted', 'investigating', 'resolved', 'revisited'])[1 + stage],
           (ARRAY[1, 2, 5, 6])[1 + stage],
           name, phone, NULL, NULL, channel, category, 'normal', store, NULL, description, '要求道歉并妥善处理',
           'CRM-' || n, at, 'agent-0042',
           CASE WHEN stage >= 1 THEN store END, NULL, CASE WHEN stage >= 1 THEN at + interval '1 hour' END, NULL,
           CASE WHEN stage >= 2 THEN 'refund' END, CASE WHEN stage >= 2 THEN 300.00 END,
           CASE WHEN stage >= 2 THEN '退还货款' END, CASE WHEN stage >= 2 THEN '非常抱歉，已为您全额退款300元。' END,
           CASE WHEN stage >= 2 THEN 'handler-07' END, CASE WHEN stage >= 2 THEN 'supervisor-03' END,
           CASE WHEN stage >= 2 THEN 'staff_fault' END, CASE WHEN stage >= 3 THEN 'satisfied' END, 0,
           at, NULL, CASE WHEN stage >= 1 THEN at + interval '1 hour' END,
           CASE WHEN stage >= 2 THEN at + interval '1 day' END, CASE WHEN stage >= 2 THEN at + interval '2 days' END,
           CASE WHEN stage >= 3 THEN at + interval '5 days' END, NULL,
           at + (ARRAY[interval '0', interval '1 hour', interval '2 days', interval '5 days'])[1 + stage]
    FROM shaped
    RETURNING id, state, accepted_at, store_id
)
INSERT INTO complaint_events (complaint_id, move, from_state, to_state, actor, api_key_id, at, payload)
SELECT c.id, m.move, m.from_state, m.to_state, m.actor, %(key_id)s::uuid, c.accepted_at + m.delay,
       CASE m.move
           WHEN 'register' THEN jsonb_build_object('channel', 'phone', 'category', 'service_attitude',
                                                   'store_id', c.store_id, 'description', '店员态度恶劣。')
           WHEN 'investigate' THEN jsonb_build_object('store_id', c.store_id)
           WHEN 'store-feedback' THEN '{"cause": "店员未按退货流程操作", "responsible_person": "李四",
                                        "responsibility": "staff_fault"}'::jsonb
           WHEN 'propose' THEN '{"remedy": {"kind": "refund", "amount": "300.00", "description": "退还货款"},
                                 "reply": "非常抱歉，全额退款。"}'::jsonb
           WHEN 'approve' THEN '{"reply": "非常抱歉，已为您全额退款300元。"}'::jsonb
           ELSE '{"satisfaction": "satisfied", "call_notes": "客户表示满意"}'::jsonb
       END
FROM inserted c
JOIN (VALUES
    (1, 'register', NULL, 'accepted', 'agent-0042', interval '0'),
    (2, 'investigate', 'accepted', 'investigating', 'handler-07', interval '1 hour'),
    (3, 'store-feedback', 'investigating', 'investigating', '店长王五', interval '5 hours'),
    (4, 'propose', 'investigating', 'awaiting_approval', 'handler-07', interval '1 day'),
    (5, 'approve', 'awaiting_approval', 'resolved', 'supervisor-03', interval '2 days'),
    (6, 'revisit', 'resolved', 'revisited', 'handler-07', interval '5 days')
) AS m (step, move, from_state, to_state, actor, delay)
  ON m.step <= (CASE c.state WHEN 'accepted' THEN 1 WHEN 'investigating' THEN 2 WHEN 'resolved' THEN 5 ELSE 6 END)
"""

# The counters follow the numbers issued, seeded or registered: the next registration of a day gets last + 1.
COUNTERS = """
INSERT INTO complaint_number_counters (day, last)
SELECT to_date(substr(number, 4, 8), 'YYYYMMDD'), max(substr(number, 13)::int)
FROM complaints
GROUP BY 1
ON CONFLICT (day) DO UPDATE SET last = GREATEST(complaint_number_counters.last, EXCLUDED.last)
"""


def seed(conninfo: str, first: int, last: int, *, tz: str, key_id: str | None) -> None:
    """Complaints number ``first`` to ``last`` (1-based, inclusive), with their history; then VACUUM ANALYZE."""
    params = {"first": first, "last": last, "tz": tz, "per_day": PER_DAY, "days_back": DAYS_BACK, "key_id": key_id}
    with psycopg.connect(conninfo) as connection:
        connection.execute(COMPLAINTS, params)
        connection.execute(COUNTERS)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE complaints, complaint_events, complaint_number_counters")


def empty(conninfo: str) -> None:
    """No complaints at all (api keys stay)."""
    with psycopg.connect(conninfo) as connection:
        connection.execute("TRUNCATE complaint_events, complaints, complaint_number_counters CASCADE")


def ids(conninfo: str) -> list[str]:
    with psycopg.connect(conninfo) as connection:
        return [str(row[0]) for row in connection.execute("SELECT id FROM complaints ORDER BY id")]
