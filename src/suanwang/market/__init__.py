"""Compute trading (算力交易): a sealed-bid call auction for deferrable work.

`orders` (bids and asks), `feasibility` (which pairs can trade, at what transit cost),
`clearing` (SBBA per market), `offline` (the welfare optimum, for comparison), `synthetic`
(documented synthetic bidders and asks). Pure library: no I/O, no clock.
"""
