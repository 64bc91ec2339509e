-- The bundled scenario: the five municipalities that became Ålesund (1507)
-- in 2020, before (each on its own networks), after (the merged networks,
-- broken down per municipality), and one variant of the merged region: a
-- direct Ålesund–Skodje corridor (variants/skodje_road.spec, merged into
-- variants/skodje_road/ by `samskap region merge`).  Evaluated by
-- `samskap run` in the plugin sandbox; paths are relative to this file.
-- See docs/scenarios.md.
return {
  name = "Ålesund 2020: before and after the merger",
  region = "1507",
  municipalities = { "1504", "1534", "1546", "1529", "1523" },
  simulations = {
    water = { network = "water.inp", params = { periods = "all" } },
    power = { case = "power.m" },
    traffic = { net = "traffic_net.tntp", trips = "traffic_trips.tntp", nodes = "traffic_node.tntp",
                params = { gap = 1e-5 } },
  },
  areas = "merged/areas.csv",
  variants = {
    { name = "skodje_road", title = "a direct Ålesund–Skodje road, water main and grid tie",
      networks = "variants/skodje_road" },
  },
  indicators = {
    "water_pressure_adequacy",
    "water_velocity_compliance",
    "power_voltage_compliance",
    "power_network_losses",
    "traffic_travel_time_index",
    "traffic_congested_links",
  },
}
