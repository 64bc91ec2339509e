-- traffic_congested_links: share of links whose volume/capacity ratio
-- exceeds a threshold.
local bands = require "samskap.bands"

return {
  api_level = 1,
  name = "traffic_congested_links",
  version = "1.0.0",
  title = "Share of congested links",
  description = "Share of links with a positive capacity whose volume/capacity ratio exceeds " ..
    "the threshold (default 0.9).  v/c means nothing when the capacity column is a scaling " ..
    "constant (some benchmark networks give every link the same huge capacity); the notes " ..
    "flag a constant capacity.",
  unit = "%",
  formula = "100 * #{l : capacity_l > 0, flow_l / capacity_l > threshold} / #{l : capacity_l > 0}",
  source = "Highway Capacity Manual level of service (v/c > 0.9 ~ LOS E/F); U4SSC EC:I:T " ..
    "transport KPIs context.",
  sdg = { code = "11.2", name = "Access to safe, affordable, accessible and sustainable transport" },
  needs = { "traffic" },
  params = {
    threshold = { default = 0.9, min = 0, max = 10, description = "v/c above which a link counts as congested" },
  },
  bands = bands.lower_better(10, 25),
  compute = function(results, params, ctx)
    local links = results.traffic.links
    local cap = links.capacity
    local has_cap = cap:gt(0)
    local n = has_cap:count()
    if n == 0 then error("no link has a positive capacity", 0) end
    local vc = links:has("vc_ratio") and links.vc_ratio or links.flow / cap
    local cong = vc:gt(params.threshold) & has_cap
    local out = { value = 100 * cong:count() / n, detail = vc }
    if ctx.areas then
      local c = cong:group_by_area(ctx.areas, "sum")
      local a = has_cap:group_by_area(ctx.areas, "sum")
      out.per_area = {}
      for code, v in pairs(a) do if v > 0 then out.per_area[code] = 100 * (c[code] or 0) / v end end
    end
    if n > 1 and cap:min(has_cap) == cap:max(has_cap) then
      out.notes = string.format("capacity is the same (%g) on every link: v/c may be meaningless " ..
        "(a scaling constant, not a capacity)", cap:max(has_cap))
    end
    return out
  end,
}
