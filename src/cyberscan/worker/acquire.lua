-- Taking a slot of the shared per-address limit (cyberscan/worker/limiter.py, RedisLimiter).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return {0, -1}
end
local interval = tonumber(ARGV[2])
local start = now
if interval > 0 then
  local nxt = tonumber(redis.call('GET', KEYS[2]) or '0')
  if nxt > start then start = nxt end
  if start - now > tonumber(ARGV[5]) then
    return {0, start - now}
  end
  redis.call('SET', KEYS[2], start + interval, 'PX', start - now + interval + 1000)
end
redis.call('ZADD', KEYS[1], start + tonumber(ARGV[3]), ARGV[4])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], tonumber(last[2]) + 1000)
return {1, start - now}
