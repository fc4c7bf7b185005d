"""Sector templates behind `northstar init --template NAME`.

Each template is a commented, valid starting spec (`<name>.yml` in this package) with the
North Star the method suggests for its sector, an exact KPI tree, driver hypotheses, team
focus metrics (OMTM), guardrails and the pirate funnel. Users point its sources at their data.
"""

from __future__ import annotations

from importlib import resources

from northstar.errors import QueryError
from northstar.spec.suggest import did_you_mean

# name -> one-line summary (shown by `northstar init --list`), in the order they are listed.
TEMPLATES: dict[str, str] = {
    "ecommerce": "Webshop: weekly customers completing an order = new + returning buyers",
    "b2b_saas": "B2B SaaS: weekly accounts active in the critical process",
    "marketplace": "Marketplace: orders delivered on time and rated 4-5",
    "media_streaming": "Music/video streaming: weekly listening or watch minutes",
    "consumer_app": "Consumer app: weekly active users doing the core action",
    "fintech": "Savings/investing app: average assets under management",
    "manufacturing": "Manufacturer with service contracts: maintenance orders completed per month",
    "business_services": "Agency/consultancy: projects delivered within scope and budget per month",
}


def template_text(name: str) -> str:
    """The YAML text of a template; QueryError (with 'Did you mean') for an unknown name."""
    if name not in TEMPLATES:
        raise QueryError(f"unknown template '{name}'.{did_you_mean(name, TEMPLATES)} "
                         f"Templates: {', '.join(TEMPLATES)}.")
    return resources.files(__name__).joinpath(f"{name}.yml").read_text(encoding="utf-8")
