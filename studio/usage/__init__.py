"""Usage: where the tokens, the time and the failures go, from the generation log.

`filters` (what to look at: a time range in the viewer's zone and the log's filters), `zones` (local days
and hours computed by the database, right on daylight-saving days), `queries` (tokens, latency, failures,
the balance), `versions` (one assistant's versions side by side). No gradio here: `ui/usage_tab.py`
draws the plots.
"""

from studio.usage.filters import (
    BETWEEN,
    DEFAULT_RANGE,
    ORIGINS,
    RANGES,
    UNSAVED,
    UsageFilter,
    UsageInputError,
    describe_range,
    time_range,
)
from studio.usage.queries import (
    BalanceOverTime,
    FailuresOverTime,
    LatencyRow,
    Options,
    Overview,
    TokensOverTime,
    balance_over_time,
    failures_over_time,
    latency,
    nearest_rank,
    options,
    overview,
    tokens_over_time,
)
from studio.usage.versions import PassRate, PassRates, VersionRow, compare_versions, suite_pass_rates
from studio.usage.zones import UnknownZone, zone_names

__all__ = [
    "BETWEEN",
    "DEFAULT_RANGE",
    "ORIGINS",
    "RANGES",
    "UNSAVED",
    "BalanceOverTime",
    "FailuresOverTime",
    "LatencyRow",
    "Options",
    "Overview",
    "PassRate",
    "PassRates",
    "TokensOverTime",
    "UnknownZone",
    "UsageFilter",
    "UsageInputError",
    "VersionRow",
    "balance_over_time",
    "compare_versions",
    "describe_range",
    "failures_over_time",
    "latency",
    "nearest_rank",
    "options",
    "overview",
    "suite_pass_rates",
    "time_range",
    "tokens_over_time",
    "zone_names",
]
