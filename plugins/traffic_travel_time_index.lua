-- traffic_travel_time_index: congested over free-flow travel time.
return {
  api_level = 1,
  name = "traffic_travel_time_index",
  version = "1.0.0",
  title = "Travel time index",
  description = "Flow-weighted ratio of congested to free-flow travel time over all links: " ..
    "total travel time at the assigned flows divided by the same trips at free-flow times.",
  unit = "ratio",
  formula = "TTI = sum_l flow_l * cost_l / sum_l flow_l * fft_l",
  source = "U4SSC KPI EC:I:T:5A 'Travel time index' (ITU-T Y.4903: ratio of peak to free-flow " ..
    "travel time); bands from U4SSC guidance: <= 1.5 good, 1.5 - 2.5 acceptable, > 2.5 poor.",
  u4ssc = { code = "EC:I:T:5A", name = "Travel time index" },
  sdg = { code = "11.2", name = "Access to safe, affordable, accessible and sustainable transport" },
  needs = { "traffic" },
  params = {},
  bands = {
    { label = "good", max = 1.5 },
    { label = "acceptable", min = 1.5, max = 2.5 },
    { label = "poor", min = 2.5 },
  },
  compute = function(results, params, ctx)
    local links = results.traffic.links
    local flow = links.flow
    local ff = (flow * links.fft):sum()
    if ff <= 0 then error("no flow at free-flow time (empty assignment?)", 0) end
    local out = { value = (flow * links.cost):sum() / ff, detail = links.cost / links.fft }
    if ctx.areas then
      local c = (flow * links.cost):group_by_area(ctx.areas, "sum")
      local f = (flow * links.fft):group_by_area(ctx.areas, "sum")
      out.per_area = {}
      for code, v in pairs(f) do if v > 0 then out.per_area[code] = c[code] / v end end
    end
    return out
  end,
}
