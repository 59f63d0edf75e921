-- wrk script for scripts/loadtest.sh: POST /personalization/decide for the demo tenant,
-- cycling through the 5,000 demo subjects and (with PLACEMENTS=all) the six placements.
local placements = {
  {"Web", "home.hero"}, {"Web", "home.recs"}, {"App", "checkout.upsell"},
  {"App", "app.home_banner"}, {"Email", "email.winback"}, {"Email", "email.cart_reminder"},
}
local mode = os.getenv("PLACEMENTS") or "hero"
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

request = function()
  i = i + 1
  local p = placements[1]
  if mode == "all" then p = placements[(i % #placements) + 1] end
  local body = string.format(
    '{"subject":{"id":"u-%05d","tenant_id":"demo"},"context":{"channel":"%s","placement":"%s"}}',
    (i % 5000) + 1, p[1], p[2])
  return wrk.format(nil, "/personalization/decide", nil, body)
end

local non200 = 0
response = function(status, headers, body)
  if status ~= 200 then non200 = non200 + 1 end
end

done = function(summary, latency, requests)
  io.write(string.format("non-2xx responses seen by thread 1: %d\n", non200))
  io.write(string.format("p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, max %.3f ms, %.0f req/s\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, summary.requests / (summary.duration / 1e6)))
end
