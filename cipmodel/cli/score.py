"""``cipmodel score``: the SOF finance and use of resources score from five metric values.

The command only parses, calls :func:`cipmodel.regime.score.score` (imported when the command
runs) and formats. A rule-pack or data error goes through the command line's one error mapping
(:mod:`cipmodel.cli.errors`): ``Error: ...`` on stderr, exit code 2, with the places of a
validation error shown as the command's options.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import click

from cipmodel.cli.errors import Command
from cipmodel.errors import CipModelError, ValidationError

if TYPE_CHECKING:
    from cipmodel.regime.score import ScoreResult

__all__ = ["MetricValue", "score"]

_NA_WORDS = ("n/a", "na", "none")
_SUFFIXES = {
    "rate": (("%", 100),),
    "pp": (("pp", 100), ("%", 100)),
    "times": (("x", 1),),
    "days": (),
}


class MetricValue(click.ParamType):
    """A metric value typed the way finance teams write it.

    ``kind`` is one of:

    - ``"rate"``: a fraction (``0.0846``) or a percent string (``8.46%``);
    - ``"pp"``: percentage points as a fraction (``-0.015``) or ``-1.5%`` / ``-1.5pp``;
    - ``"times"``: a multiple (``2.6`` or ``2.6x``);
    - ``"days"``: a number of days (``-20``).

    Every kind accepts accounting brackets for a negative (``(1.5)%``, ``(7)``) and
    ``n/a`` for not applicable (returned as NaN). Percent strings are converted exactly
    (``8.46%`` is the float nearest 0.0846). With ``max_abs``, a rate whose size is
    above it is refused as probably a percent typed without ``%``.
    """

    def __init__(self, kind: str, *, max_abs: float | None = None) -> None:
        if kind not in ("rate", "pp", "times", "days"):
            raise ValueError(f"unknown metric value kind {kind!r}")
        self.kind = kind
        self.max_abs = max_abs
        self.name = {"rate": "RATE", "pp": "PP", "times": "TIMES", "days": "DAYS"}[kind]

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            text = repr(float(value))
        else:
            text = str(value).strip().lower().replace(",", "").replace(" ", "")
        if text in _NA_WORDS:
            return math.nan
        number = self._parse(text)
        if number is None:
            self.fail(f"{value!r} is not {self._expected()}", param, ctx)
        if self.max_abs is not None and abs(number) > self.max_abs:
            hint = f" (did you mean {text}%?)" if not text.endswith(("%", "pp")) else ""
            limit = f"{self.max_abs:.0%}"
            self.fail(f"{value!r} is outside -{limit} to {limit}{hint}", param, ctx)
        return number

    def _parse(self, text: str) -> float | None:
        """The value as a float in the metric's unit, or None if it cannot be read."""
        bracketed = re.fullmatch(r"\((.*)\)(%|pp|x)?", text)
        if bracketed:  # accounting negative: (7), (1.5)%, (1.5%)
            text = bracketed.group(1) + (bracketed.group(2) or "")
        scale = 1
        for suffix, factor in _SUFFIXES[self.kind]:
            if text.endswith(suffix):
                text, scale = text[: -len(suffix)], factor
                break
        try:
            number = Decimal(text)
            if not number.is_finite() or (bracketed and number.is_signed()):
                return None
            value = float(-(number / scale) if bracketed else number / scale)
        except ArithmeticError:  # InvalidOperation, or 1e999999999 overflowing the context
            return None
        # 1e400 is a finite Decimal but no float: refused as inf is, with or without --json
        return value if math.isfinite(value) else None

    def _expected(self) -> str:
        return {
            "rate": "a fraction (0.0846) or a percent (8.46%)",
            "pp": "percentage points as a fraction (-0.015) or a percent (-1.5% or -1.5pp)",
            "times": "a number of times (2.5 or 2.5x)",
            "days": "a number of days (-20)",
        }[self.kind] + ", or n/a"


# metric -> (kind of value, label) for the human table
_METRICS = {
    "capital_service_capacity": ("times", "capital service capacity"),
    "liquidity_days": ("days", "liquidity (days)"),
    "ie_margin": ("rate", "I&E margin"),
    "distance_from_plan": ("pp", "distance from plan"),
    "agency_vs_ceiling": ("rate", "agency vs ceiling"),
}

_OPTION_OF = {
    "planned_surplus": "--planned-surplus/--planned-deficit",
    "control_total_accepted": "--control-total-accepted/--no-control-total-accepted",
    "financial_special_measures": "--financial-special-measures",
    **{name: "--" + name.replace("_", "-") for name in _METRICS},
}


def _format_value(kind: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    if kind == "times":
        return f"{value:.2f}x"
    if kind == "days":
        return f"{value:.1f}"
    if kind == "pp":
        return f"{value * 100:+.2f}pp"
    return f"{value:.2%}"


def _human(result: ScoreResult) -> str:
    lines = [f"Finance and use of resources score (rules: {result.rules})", ""]
    lines.append(f"  {'metric':<26}{'value':>10}{'score':>7}")
    for name, s in result.metric_scores.items():
        kind, label = _METRICS.get(name, ("rate", name))
        shown = "n/a" if s is None else str(s)
        lines.append(f"  {label:<26}{_format_value(kind, result.values[name]):>10}{shown:>7}")
    lines += [
        "",
        f"  mean {result.mean:g} -> rounded {result.rounded}",
        f"  overrides applied: {', '.join(result.overrides) or 'none'}",
        f"  overall score: {result.overall}",
    ]
    if result.unverified:
        lines += ["", f"Depends on {len(result.unverified)} unverified rule values:"]
        lines += [f"  {key}" for key in result.unverified]
    return "\n".join(lines)


def _options_named(exc: ValidationError) -> str:
    """A validation error's problems, with API field names shown as the command's options."""
    return "\n".join(f"{_OPTION_OF.get(p.place, p.place)}: {p.message}" for p in exc.problems)


@click.command("score", cls=Command)
@click.option(
    "--capital-service-capacity",
    type=MetricValue("times"),
    required=True,
    help="Capital service capacity [times], e.g. 2.6 or 2.6x.",
)
@click.option(
    "--liquidity-days",
    type=MetricValue("days"),
    required=True,
    help="Liquidity [days of operating costs], e.g. -20 or (20).",
)
@click.option(
    "--ie-margin",
    type=MetricValue("rate", max_abs=1.0),
    required=True,
    help="I&E margin: a fraction (0.0846) or a percent (8.46%).",
)
@click.option(
    "--distance-from-plan",
    type=MetricValue("pp", max_abs=1.0),
    required=True,
    help="YTD actual minus planned I&E margin, in percentage points: -1.5% (or -1.5pp, -0.015).",
)
@click.option(
    "--agency-vs-ceiling",
    type=MetricValue("rate"),
    default=None,
    help="(Agency spend - ceiling) / ceiling: a fraction or a percent. Omit or n/a if the "
    "trust has no agency ceiling (the metric is then left out of the mean).",
)
@click.option(
    "--control-total-accepted/--no-control-total-accepted",
    default=True,
    show_default=True,
    help="Whether the trust accepted its control total.",
)
@click.option(
    "--planned-surplus/--planned-deficit",
    default=None,
    help="Whether the trust plans a surplus (or break-even) or a deficit; needed with "
    "--no-control-total-accepted.",
)
@click.option(
    "--financial-special-measures",
    is_flag=True,
    default=False,
    help="The trust is in financial special measures.",
)
@click.option(
    "--rules",
    default="sof-2016",
    show_default=True,
    metavar="NAME|PATH",
    help="SOF rule pack: a name, name:variant (sof-2016:nov-2017) or a path to a .toml copy.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
def score(
    capital_service_capacity: float,
    liquidity_days: float,
    ie_margin: float,
    distance_from_plan: float,
    agency_vs_ceiling: float | None,
    control_total_accepted: bool,
    planned_surplus: bool | None,
    financial_special_measures: bool,
    rules: str,
    as_json: bool,
) -> None:
    """The SOF finance and use of resources score (1 best .. 4 worst) from metric values.

    Each metric is scored 1-4, the scores are averaged and rounded, then the overrides
    (e.g. any metric at 4: no better than 3) are applied. Values marked unverified in the
    rule pack are listed with the result.

    \b
    Example:
      cipmodel score --capital-service-capacity 2.6 --liquidity-days 30.6 \\
        --ie-margin 8.46% --distance-from-plan 8.4% --agency-vs-ceiling -55.96%
    """
    from cipmodel.regime.score import score as score_values

    given = {
        "capital_service_capacity": capital_service_capacity,
        "liquidity_days": liquidity_days,
        "ie_margin": ie_margin,
        "distance_from_plan": distance_from_plan,
        "agency_vs_ceiling": agency_vs_ceiling,
    }
    values = {k: None if v is None or math.isnan(v) else v for k, v in given.items()}
    try:
        result = score_values(
            values,
            pack=rules,
            control_total_accepted=control_total_accepted,
            planned_surplus=planned_surplus,
            financial_special_measures=financial_special_measures,
        )
    except ValidationError as exc:
        raise CipModelError(_options_named(exc)) from None
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, allow_nan=False))
    else:
        click.echo(_human(result))
