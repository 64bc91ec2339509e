jobs = 4
name = "haram-1"
tenants = { "1534", "1507" }
verbose = true
