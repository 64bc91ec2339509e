-- water_demand_satisfaction: delivered / required demand volume under
-- pressure-driven demand.
local bands = require "samskap.bands"
local time = require "samskap.time"

return {
  api_level = 1,
  name = "water_demand_satisfaction",
  version = "1.0.0",
  title = "Demand satisfaction",
  description = "Volume delivered to junctions divided by the volume they required, over all " ..
    "periods (weighted by period length), from a pressure-driven demand analysis.",
  unit = "%",
  formula = "100 * sum_t dt_t * sum_j q_delivered(j,t) / sum_t dt_t * sum_j q_required(j,t)",
  source = "Pressure-driven demand analysis (Wagner et al. 1988; EPANET 2.2 PDA); " ..
    "cf. IWA PI QS9 'continuity of supply'.",
  sdg = { code = "6.1.1", name = "Proportion of population using safely managed drinking water services" },
  needs = { "water" },
  params = {},
  bands = bands.higher_better(98, 90),
  compute = function(results, params, ctx)
    local nodes = results.water.nodes
    local j = nodes.type:ieq("junction")
    local dur = time.durations(nodes)
    local req = time.integrate(nodes.demand_required:per_period("sum", j), dur)
    local got = time.integrate(nodes.demand_delivered:per_period("sum", j), dur)
    if req <= 0 then error("no required demand in the results", 0) end
    local out = { value = 100 * got / req }
    if ctx.areas then
      local r = nodes.demand_required:scale_periods(dur):group_by_area(ctx.areas, "sum", j)
      local d = nodes.demand_delivered:scale_periods(dur):group_by_area(ctx.areas, "sum", j)
      out.per_area = {}
      for code, v in pairs(r) do
        if v > 0 then out.per_area[code] = 100 * (d[code] or 0) / v end
      end
    end
    return out
  end,
}
