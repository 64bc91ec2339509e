-- water_supply_loss: share of the water supplied that is lost to leakage.
local bands = require "samskap.bands"
local time = require "samskap.time"

return {
  api_level = 1,
  name = "water_supply_loss",
  version = "1.0.0",
  title = "Water supply loss",
  description = "Leakage volume (pipe leakage plus emitter outflow at nodes) as a share of the " ..
    "volume supplied (delivered demand plus leakage), over all periods.",
  unit = "%",
  formula = "100 * L / (C + L), L = sum_t dt_t * sum_n (leakage(n,t) + emitter(n,t)), " ..
    "C = sum_t dt_t * sum_j delivered(j,t)",
  source = "U4SSC KPI EC:I:WS:3C 'Water supply loss' (ITU-T Y.4903, percentage of water " ..
    "lost in the distribution system); IWA water balance (real losses).",
  u4ssc = { code = "EC:I:WS:3C", name = "Water supply loss" },
  sdg = { code = "6.4.1", name = "Change in water-use efficiency over time" },
  needs = { "water" },
  params = {},
  bands = bands.lower_better(10, 25),
  compute = function(results, params, ctx)
    local nodes = results.water.nodes
    local dur = time.durations(nodes)
    local j = nodes.type:ieq("junction")
    local leak = nodes:has("leakage_flow") and nodes.leakage_flow or nil
    local emit = nodes:has("emitter_flow") and nodes.emitter_flow or nil
    if not leak and not emit then error("results have neither leakage_flow nor emitter_flow", 0) end
    local lost_col = (leak and emit) and (leak + emit) or (leak or emit)
    local dem = nodes:has("demand_delivered") and nodes.demand_delivered or nodes.demand
    -- leakage and demand share a unit (the network's flow unit), so it cancels
    local L = time.integrate(lost_col:per_period("sum"), dur)
    local C = time.integrate(dem:per_period("sum", j), dur)
    if C + L <= 0 then error("no water supplied", 0) end
    local out = { value = 100 * L / (C + L), detail = lost_col:per_element("mean") }
    if ctx.areas then
      local la = lost_col:scale_periods(dur):group_by_area(ctx.areas, "sum")
      local ca = dem:scale_periods(dur):group_by_area(ctx.areas, "sum", j)
      out.per_area = {}
      for code, c in pairs(ca) do
        local l = la[code] or 0
        if c + l > 0 then out.per_area[code] = 100 * l / (c + l) end
      end
    end
    return out
  end,
}
