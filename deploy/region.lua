-- The region configuration the broker reads (--region FILE): the
-- municipalities, by their stable municipality numbers, and the merged
-- regions with each member's period.  Read as data; see docs/operations.md.
return {
  municipalities = {
    { id = "1504", name = "Ålesund", population = 67000 },
    { id = "1534", name = "Haram", population = 9400 },
    { id = "1546", name = "Sandøy", population = 1300 },
    { id = "1529", name = "Skodje", population = 4700 },
    { id = "1523", name = "Ørskog", population = 2300 },
  },
  regions = {
    -- The Ålesund of 2020; Haram left again on 1 January 2024.
    { id = "1507", name = "Ålesund", members = {
        { id = "1504", from = "2020-01-01" },
        { id = "1534", from = "2020-01-01", to = "2023-12-31" },
        { id = "1546", from = "2020-01-01" },
        { id = "1529", from = "2020-01-01" },
        { id = "1523", from = "2020-01-01" },
    } },
  },
}
