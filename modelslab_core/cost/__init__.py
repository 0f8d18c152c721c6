"""What a call costs: `catalog` (model facts and prices, one data file and its layers),
`pricing` (exact money), `budget` (spend ledgers and budgets) and `metering` (the stream half of
a charge)."""
