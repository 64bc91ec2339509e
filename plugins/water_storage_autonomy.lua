-- water_storage_autonomy: hours the stored volume lasts at average demand.
local bands = require "samskap.bands"
local units = require "samskap.units"

return {
  api_level = 1,
  name = "water_storage_autonomy",
  version = "1.0.0",
  title = "Storage autonomy",
  description = "Mean volume held in tanks divided by the mean total junction demand: how " ..
    "many hours of average demand the storage covers if supply stops.",
  unit = "h",
  formula = "mean_t sum_tanks V(k,t) [m3] / (mean_t sum_j q(j,t) [m3/s] * 3600)",
  source = "Storage design practice: treated-water storage of about one day of average demand " ..
    "(e.g. Norsk Vann rapport 193; AWWA M32); autonomy in hours as in IWA PI Ph1 'treated water " ..
    "storage capacity' (expressed in days there).",
  sdg = { code = "6.1.1", name = "Proportion of population using safely managed drinking water services" },
  needs = { "water" },
  params = {},
  bands = bands.higher_better(24, 12),
  compute = function(results, params, ctx)
    local nodes = results.water.nodes
    local tank = nodes.type:ieq("tank")
    if tank:count() == 0 then error("no tanks in the network", 0) end
    local vf = units.factor(nodes.tank_volume:unit(), units.volume)
    local vol = nodes.tank_volume:per_period("sum", tank):mean() * vf     -- m3
    local j = nodes.type:ieq("junction")
    local qf = units.factor(nodes.demand:unit(), units.flow)
    local q = nodes.demand:per_period("sum", j):mean() * qf              -- m3/s
    if q <= 0 then error("average demand is zero", 0) end
    local out = { value = vol / (q * 3600) }
    if ctx.areas then
      local va = nodes.tank_volume:group_by_area(ctx.areas, "sum", tank)
      local qa = nodes.demand:group_by_area(ctx.areas, "sum", j)
      local np = math.max(1, nodes:nperiods())
      out.per_area = {}
      for code, qs in pairs(qa) do
        -- sums over all periods: the period count cancels
        if qs > 0 then out.per_area[code] = (va[code] or 0) * vf / (qs * qf * 3600) end
      end
      out.notes = string.format("%d periods", np)
    end
    return out
  end,
}
