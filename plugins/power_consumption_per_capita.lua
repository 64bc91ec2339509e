-- power_consumption_per_capita: annual electricity consumption per person.
local time = require "samskap.time"
local units = require "samskap.units"

return {
  api_level = 1,
  name = "power_consumption_per_capita",
  version = "1.0.0",
  title = "Electricity consumption per capita",
  description = "Electric energy served to loads, scaled to a year, divided by the population " ..
    "of the region (from the areas sidecar, or the population param).  With a period axis the " ..
    "load profile is integrated and scaled by 8760 h / covered hours; a single snapshot is " ..
    "taken as the average load times load_factor.",
  unit = "kWh/capita/year",
  formula = "E = sum_t dt_t[h] * sum_b pd_mw(b,t) * 1000 * 8760 / sum_t dt_t[h];  E / population",
  source = "U4SSC KPI EN:E:E:2C 'Electricity consumption' (ITU-T Y.4903: electricity " ..
    "consumption per capita, kWh/year).",
  u4ssc = { code = "EN:E:E:2C", name = "Electricity consumption" },
  sdg = { code = "7.3", name = "Energy efficiency" },
  needs = { "power" },
  params = {
    population = { default = 0, min = 0, unit = "persons", description = "population when the job has no areas" },
    load_factor = { default = 1, min = 0.01, max = 1, description = "average/snapshot load for a single snapshot" },
  },
  bands = {},
  compute = function(results, params, ctx)
    local bus = results.power.bus
    local pd = bus.pd_mw
    local dur = time.durations(bus)
    local hours = time.total_s(dur) / 3600
    local scale                                    -- MWh over the covered hours -> kWh/year
    if bus:nperiods() == 0 then
      scale = params.load_factor * 8760 * 1000
      dur = { 1 }
      hours = 1
    else
      scale = 8760 / hours * 1000
      for i = 1, #dur do dur[i] = dur[i] / 3600 end  -- hours
    end
    local energy = time.integrate(pd:per_period("sum"), dur) * scale
    local pop = 0
    for _, code in ipairs(ctx.area_codes) do pop = pop + (ctx.population[code] or 0) end
    if pop == 0 then pop = params.population end
    if pop <= 0 then error("no population: give an areas sidecar or the population param", 0) end
    local out = { value = energy / pop }
    if ctx.areas then
      local ea = pd:scale_periods(dur):group_by_area(ctx.areas, "sum")
      out.per_area = {}
      for code, e in pairs(ea) do
        local p = ctx.population[code] or 0
        if p > 0 then out.per_area[code] = e * scale / p end
      end
    end
    out.notes = string.format("%.6g MWh/year for %.6g people", energy / 1000, pop)
    return out
  end,
}
