"""The Lua scripts of the Redis state store: each check-and-update is one script, so it is
atomic across replicas. Records are "<expiry>|<json>" (expiry in unix seconds, "-" for
none); each namespace has a sorted-set index of its keys by expiry (see redis.py)."""

from .redis_history import HISTORY_SCRIPTS

__all__ = ["SCRIPTS"]

# Shared by every script: a record's liveness, and writing one with its index entry.
_LIB = """
local function live(raw, now)
  if not raw then return nil end
  local bar = string.find(raw, '|', 1, true)
  local expiry = string.sub(raw, 1, bar - 1)
  if expiry ~= '-' and tonumber(expiry) <= tonumber(now) then return nil end
  return raw
end
local function store(rec, idx, member, expiry, body, now)
  if expiry == '-' then
    redis.call('SET', rec, '-|' .. body)
    redis.call('ZADD', idx, '+inf', member)
  else
    local at = string.format('%.0f', math.ceil(tonumber(expiry) * 1000))
    redis.call('SET', rec, expiry .. '|' .. body, 'PXAT', at)
    redis.call('ZADD', idx, expiry, member)
  end
  redis.call('ZREMRANGEBYSCORE', idx, '-inf', now)
  local last = redis.call('ZRANGE', idx, -1, -1, 'WITHSCORES')
  if last[2] == nil or tonumber(last[2]) == math.huge then
    redis.call('PERSIST', idx)
  else
    redis.call('PEXPIREAT', idx, string.format('%.0f', math.ceil(tonumber(last[2]) * 1000)))
  end
end
"""
# KEYS: record, index. ARGV: now, expiry, member, body.
_PUT = _LIB + "store(KEYS[1], KEYS[2], ARGV[3], ARGV[2], ARGV[4], ARGV[1]) return 1"
_ADD = (
    _LIB
    + """
local raw = live(redis.call('GET', KEYS[1]), ARGV[1])
if raw then return raw end
store(KEYS[1], KEYS[2], ARGV[3], ARGV[2], ARGV[4], ARGV[1])
return false
"""
)
# ARGV: now, member, limit, the reset time of a window that starts now.
_HIT = (
    _LIB
    + """
local raw = live(redis.call('GET', KEYS[1]), ARGV[1])
local count, reset = 0, ARGV[4]
if raw then
  local bar = string.find(raw, '|', 1, true)
  reset = string.sub(raw, 1, bar - 1)
  count = tonumber(cjson.decode(string.sub(raw, bar + 1))['count']) or 0
end
local allowed = 0
if count < tonumber(ARGV[3]) then
  allowed = 1
  count = count + 1
end
local body = '{"count":' .. string.format('%d', count) .. ',"reset_at":' .. reset .. '}'
store(KEYS[1], KEYS[2], ARGV[2], reset, body, ARGV[1])
return {allowed, count, reset}
"""
)
# ARGV: member.
_DELETE_ONE = """
local gone = redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return gone
"""
# KEYS: index. ARGV: the record key prefix of the namespace.
_DELETE_ALL = """
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
local gone = 0
for i = 1, #members, 500 do
  local batch = {}
  for j = i, math.min(i + 499, #members) do batch[#batch + 1] = ARGV[1] .. members[j] end
  gone = gone + redis.call('DEL', unpack(batch))
end
redis.call('DEL', KEYS[1])
return gone
"""


SCRIPTS = {
    "put": _PUT,
    "add": _ADD,
    "hit": _HIT,
    "delete_one": _DELETE_ONE,
    "delete_all": _DELETE_ALL,
    **HISTORY_SCRIPTS,
}
