-- water_infrastructure_leakage_index: IWA ILI = current over unavoidable
-- annual real losses.
local units = require "samskap.units"
local time = require "samskap.time"

return {
  api_level = 1,
  name = "water_infrastructure_leakage_index",
  version = "1.0.0",
  title = "Infrastructure leakage index (ILI)",
  description = "Current real losses (simulated leakage + emitter outflow, per day) divided by " ..
    "the unavoidable annual real losses of the IWA formula.  Needs the number of service " ..
    "connections (param), which results do not carry; mains length comes from the pipes, " ..
    "average pressure from the junctions.",
  unit = "",
  formula = "ILI = CARL / UARL;  CARL [L/d] = mean leakage [L/s] * 86400;  " ..
    "UARL [L/d] = (18 Lm[km] + 0.8 Nc + 25 Lp[km]) * P[m]",
  source = "IWA Water Loss Task Force (Lambert et al. 1999; Alegre et al. 2016, PI Op29); " ..
    "World Bank Institute banding A < 2 <= B < 4 <= C < 8 <= D.",
  sdg = { code = "6.4.1", name = "Change in water-use efficiency over time" },
  needs = { "water" },
  params = {
    connections = { default = 0, min = 0, type = "integer", description = "number of service connections (Nc)" },
    private_length_km = { default = 0, min = 0, unit = "km", description = "service pipe length, property line to meter (Lp)" },
  },
  bands = {
    { label = "A", max = 2 }, { label = "B", min = 2, max = 4 },
    { label = "C", min = 4, max = 8 }, { label = "D", min = 8 },
  },
  compute = function(results, params, ctx)
    if params.connections <= 0 then
      error("ILI needs the number of service connections: set param connections", 0)
    end
    local w = results.water
    local links, nodes = w.links, w.nodes
    local pipe = links.type:ieq("pipe") | links.type:ieq("cvpipe")
    local lf = units.factor(links.length:unit(), units.length) / 1000          -- -> km
    local Lm = links.length:sum(pipe) * lf
    local j = nodes.type:ieq("junction")
    local P = nodes.pressure:mean(j) * units.factor(nodes.pressure:unit(), units.head)
    local leak = nodes:has("leakage_flow") and nodes.leakage_flow or nil
    local emit = nodes:has("emitter_flow") and nodes.emitter_flow or nil
    if not leak and not emit then error("results have neither leakage_flow nor emitter_flow", 0) end
    local lost = (leak and emit) and (leak + emit) or (leak or emit)
    local dur = time.durations(nodes)
    local mean_flow = time.integrate(lost:per_period("sum"), dur) / time.total_s(dur)
    local carl = mean_flow * units.factor(lost:unit(), units.flow) * 1000 * 86400   -- L/day
    local uarl = (18 * Lm + 0.8 * params.connections + 25 * params.private_length_km) * P
    if uarl <= 0 then error("UARL is zero (no mains length or pressure)", 0) end
    return {
      value = carl / uarl,
      notes = string.format("CARL %.6g L/d, UARL %.6g L/d (Lm %.4g km, P %.4g m)", carl, uarl, Lm, P),
    }
  end,
}
