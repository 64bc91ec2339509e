-- water_pumping_energy_intensity: pumping energy per cubic metre supplied.
local time = require "samskap.time"
local units = require "samskap.units"

return {
  api_level = 1,
  name = "water_pumping_energy_intensity",
  version = "1.0.0",
  title = "Pumping energy per m3 supplied",
  description = "Electrical energy used by pumps divided by the volume delivered to junctions, " ..
    "both integrated over the simulated periods.",
  unit = "kWh/m3",
  formula = "sum_t dt_t * sum_pumps P(k,t) [kW] / 3600 / sum_t dt_t * sum_j q(j,t) [m3/s]",
  source = "IWA Performance Indicators for Water Supply Services, Ph5 'standardised energy " ..
    "consumption' (here per m3 supplied rather than per m3 per 100 m head).",
  sdg = { code = "7.3.1", name = "Energy intensity" },
  needs = { "water" },
  params = {},
  bands = {},
  compute = function(results, params, ctx)
    local w = results.water
    local links, nodes = w.links, w.nodes
    local pump = links.type:ieq("pump")
    local pf = units.factor(links.pump_power:unit(), units.power) / 1e3   -- -> kW
    local kwh = time.integrate(links.pump_power:per_period("sum", pump), time.durations(links)) * pf / 3600
    local j = nodes.type:ieq("junction")
    local dem = nodes:has("demand_delivered") and nodes.demand_delivered or nodes.demand
    local qf = units.factor(dem:unit(), units.flow)                        -- -> m3/s
    local m3 = time.integrate(dem:per_period("sum", j), time.durations(nodes)) * qf
    if m3 <= 0 then error("no demand delivered in the results", 0) end
    local out = { value = kwh / m3 }
    out.notes = string.format("%.6g kWh for %.6g m3", kwh, m3)
    return out
  end,
}
