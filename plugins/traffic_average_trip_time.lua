-- traffic_average_trip_time: total system travel time per trip.
return {
  api_level = 1,
  name = "traffic_average_trip_time",
  version = "1.0.0",
  title = "Average trip time",
  description = "Total system travel time (sum of flow times link cost, or the result's tstt " ..
    "meta) divided by the number of trips (result meta total_demand / trips, or the trips " ..
    "param).  In the unit of the cost column (minutes for TNTP networks).",
  unit = "min",
  formula = "T = sum_l flow_l * cost_l / trips",
  source = "Average travel time per trip (U4SSC EC:I:T transport KPIs; FHWA travel time " ..
    "reliability measures).",
  sdg = { code = "11.2", name = "Access to safe, affordable, accessible and sustainable transport" },
  needs = { "traffic" },
  params = {
    trips = { default = 0, min = 0, description = "number of trips when the result has no total_demand meta" },
  },
  bands = {},
  compute = function(results, params, ctx)
    local t = results.traffic
    local links = t.links
    local tstt = (links.flow * links.cost):sum()
    local trips = t.meta.total_demand or t.meta.trips or t.meta.total_trips
    if not trips or trips <= 0 then trips = params.trips end
    if trips <= 0 then error("number of trips unknown: no total_demand meta and no trips param", 0) end
    local out = { value = tstt / trips }
    if t.meta.tstt and math.abs(t.meta.tstt - tstt) > 1e-6 * math.max(1, tstt) then
      out.notes = string.format("link sum %.6g differs from the result's tstt %.6g", tstt, t.meta.tstt)
    end
    return out
  end,
}
