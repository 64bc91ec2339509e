-- traffic_vkt: vehicle-kilometres travelled in the assignment period.
local units = require "samskap.units"

return {
  api_level = 1,
  name = "traffic_vkt",
  version = "1.0.0",
  title = "Vehicle-kilometres travelled",
  description = "Sum over links of assigned flow times link length, for the assignment period " ..
    "(lengths in the column's unit: km, m or mi; km when the unit is empty).",
  unit = "veh-km",
  formula = "VKT = sum_l flow_l * length_l[km]",
  source = "Standard transport-planning measure (FHWA Highway Statistics VMT); input to " ..
    "SDG 11.6 / 3.9.1 emission estimates.",
  sdg = { code = "11.2", name = "Access to safe, affordable, accessible and sustainable transport" },
  needs = { "traffic" },
  params = {
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
    local vkm = links.flow * links.length * f
    local out = { value = vkm:sum(), detail = vkm }
    if ctx.areas then out.per_area = vkm:group_by_area(ctx.areas, "sum") end
    return out
  end,
}
