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
  params = {},
  bands = {},
  compute = function(results, params, ctx)
    local links = results.traffic.links
    local lu = links.length:unit()
    local f = (lu == "" or lu == "km") and 1 or lu == "m" and 1e-3 or lu == "mi" and 1.609344 or nil
    if not f then error("unknown length unit '" .. lu .. "'", 0) end
    local vkm = links.flow * links.length * f
    local out = { value = vkm:sum(), detail = vkm }
    if ctx.areas then out.per_area = vkm:group_by_area(ctx.areas, "sum") end
    return out
  end,
}
