-- A plugin with a metadata mistake: `samskap plugin check` must name it.
return {
  api_level = 1, name = "bad_metadata", version = "1", title = "Bad", description = "", unit = "",
  formula = "f", source = "s", needs = { "water" },
  params = { pmin = { default = 600, min = 0, max = 500, description = "out of its own range" } },
  compute = function() return 0 end,
}
