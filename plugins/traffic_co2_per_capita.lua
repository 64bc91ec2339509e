-- traffic_co2_per_capita: road-traffic CO2 per inhabitant per year, from
-- vehicle-km and an emission factor.
return {
  api_level = 1,
  name = "traffic_co2_per_capita",
  version = "1.0.0",
  title = "Road traffic CO2 per capita",
  description = "Vehicle-km of the assignment period times a fleet emission factor, scaled to " ..
    "a year, divided by the population (areas sidecar or population param).  The default " ..
    "factor is an assumed fleet average; set ef_g_per_vkm from the national inventory.",
  unit = "kg CO2/capita/year",
  formula = "sum_l flow_l * length_l[km] * ef[g/veh-km] * periods_per_year / 1000 / population",
  source = "SDG 11.6 / 13.2.2 (greenhouse gas emissions per capita); emission factor method " ..
    "of the EMEP/EEA air pollutant emission inventory guidebook (COPERT, tier 1: ~160 g CO2 " ..
    "per vehicle-km for a mixed passenger-car fleet, an assumption to override).",
  sdg = { code = "11.6", name = "Reduce the adverse per capita environmental impact of cities" },
  needs = { "traffic" },
  params = {
    ef_g_per_vkm = { default = 160, min = 0, max = 5000, unit = "g/veh-km", description = "CO2 emission factor" },
    periods_per_year = { default = 3650, min = 1, max = 1e6,
      description = "assignment periods per year (default: a peak hour carrying 10 % of daily traffic, 365 days)" },
    population = { default = 0, min = 0, unit = "persons", description = "population when the job has no areas" },
    length_unit = { default = "", description = "length unit of the network (km, m, mi, ft); empty: the column's unit, km if none" },
  },
  bands = {},
  compute = function(results, params, ctx)
    local links = results.traffic.links
    -- the param overrides the column's unit (TNTP files do not say theirs)
    local lu = params.length_unit ~= "" and params.length_unit or links.length:unit()
    local factors = { [""] = 1, km = 1, m = 1e-3, mi = 1.609344, ft = 3.048e-4 }
    local f = factors[lu]
    if not f then error("unknown length unit '" .. lu .. "' (km, m, mi, ft)", 0) end
    local kg = links.flow * links.length * (f * params.ef_g_per_vkm * params.periods_per_year / 1000)
    local pop = 0
    for _, code in ipairs(ctx.area_codes) do pop = pop + (ctx.population[code] or 0) end
    if pop == 0 then pop = params.population end
    if pop <= 0 then error("no population: give an areas sidecar or the population param", 0) end
    local total = kg:sum()
    local out = { value = total / pop, detail = kg }
    if ctx.areas then
      out.per_area = {}
      for code, v in pairs(kg:group_by_area(ctx.areas, "sum")) do
        local p = ctx.population[code] or 0
        if p > 0 then out.per_area[code] = v / p end
      end
    end
    out.notes = string.format("%.6g t CO2/year in total", total / 1000)
    return out
  end,
}
