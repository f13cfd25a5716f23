"""Both price tables together: Google Cloud's (infra/cost/prices.py) and the AWS extract
(infra/cost/aws_prices.py), for the freshness tests and for anyone auditing the rows."""

from __future__ import annotations

from infra.cost import aws_prices, prices
from infra.cost.prices import Price


def every_price() -> list[tuple[str, Price]]:
    """Every row of both tables, named."""
    return prices.every_price() + aws_prices.every_price()
