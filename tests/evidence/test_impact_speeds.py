"""Evidence: the impact speeds at which the pedestrian conflict chain strikes pedestrians.

Two kinds of checks of the chain's reaction-and-braking step (:func:`vision_zero.risk.pedestrian_conflict.
impact_speed_nodes_kph`), against in-depth crash studies:

- Adelaide's reconstructed fatal pedestrian collisions (McLean et al. 1994, CR 146; Anderson et al. 1997): travelling
  speeds 5 km/h lower cut fatal collisions by 30%, a tenth of them avoided altogether. The chain itself, at the
  then urban limit of 60 km/h, over its own warning times (uniform over one lane's crossing time), reaction times
  and decelerations (fast).
- Richards 2010 (TRL): about half of the pedestrian deaths at an impact speed of 30 mph (48.3 km/h) or less. The
  chain's deaths on the SCHEMATIC small network through the real pipeline (2 replications, central parameters;
  slow), with the shares of its collisions at low impact speeds beside them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import numpy as np
import numpy.typing as npt
import pytest
from evidence_fixtures import REPLICATIONS, at_central_values, shared_traffic_store, write_scenarios

from vision_zero.core.parameters import load_parameters
from vision_zero.program.scenario import load_scenario
from vision_zero.risk import crossing_behaviour, pedestrian_conflict, pedestrian_injury
from vision_zero.runs.pipeline import run_replication
from vision_zero.runs.preparation import prepare

MPH_30_KPH = 48.28
#: Travelling speed of the Adelaide comparison: the urban limit in 1983-1991 (McLean et al. 1994's scenarios lower
#: it to 50 km/h); the reconstructed cases' own speeds are not in the abstract.
ADELAIDE_TRAVEL_KPH = 60.0
ADELAIDE_SLOWER_KPH = 5.0
_TAU_POINTS = 2001


def _evidence(name: str) -> tuple[float, float, float]:
    p = load_parameters()[f"risk.pedestrian.evidence.{name}"]
    assert p.low is not None and p.high is not None
    return p.value, p.low, p.high


def _chain_deaths(
    travel_kph: float, tau_s: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per (warning time, reaction, deceleration) node: impact speed and expected deaths (node weight x risk)."""
    p = load_parameters().central()
    impact, weights = pedestrian_conflict.impact_speed_nodes_kph(
        np.full_like(tau_s, travel_kph), tau_s, parameters=p
    )
    death = np.where(
        impact > 0.0, pedestrian_injury.pedestrian_injury_risk(impact, "fatal", parameters=p), 0.0
    )
    return impact, death * weights


def adelaide_scenario() -> dict[str, float]:
    """The same conflicts at the travelling speed and at 5 km/h less: change in deaths and share avoided.

    The chain's conflicts in one lane with vehicles coming straight at the pedestrians (warning times over one
    lane's crossing time, weighted by the lags the pedestrians accepted, :func:`vision_zero.risk.crossing_behaviour.
    lag_acceptance_share`); at the lower speed each pedestrian steps out when the vehicle is at the same place, so it
    arrives later (``tau x v / (v - 5)``), as in the reconstructions' counterfactual: the same crash with a slower
    vehicle.
    """
    p = load_parameters().central()
    tau = np.linspace(
        0.0, crossing_behaviour.crossing_time_s(1, "unmarked", parameters=p).item(), _TAU_POINTS
    )
    accepted = crossing_behaviour.lag_acceptance_share(tau, parameters=p)[:, None, None]
    v = ADELAIDE_TRAVEL_KPH
    _, death = _chain_deaths(v, tau)
    slower, death_slower = _chain_deaths(v - ADELAIDE_SLOWER_KPH, tau * v / (v - ADELAIDE_SLOWER_KPH))
    death, death_slower = death * accepted, death_slower * accepted
    return {
        "change": float(death_slower.sum() / death.sum() - 1.0),
        "avoided": float(death[slower <= 0.0].sum() / death.sum()),
    }


_CHANGE_GAP = (
    "the chain's deaths fall by 52.0% at 5 km/h less (60 km/h travelling, the same conflicts at the same places; "
    "central parameters, measured 2026-12-01 with the lag spread re-fitted after the traffic record's held flag, "
    "risk.pedestrian.critical_lag.sigma_log 0.87 -> 0.67; -48.7% at 0.87; there -46.4% at 65 km/h, -53.1% at 50; -38.3% before the pedestrians' lag "
    "acceptance, risk.pedestrian.critical_lag.*, made most collisions braked ones) against 30% in Adelaide's "
    "reconstructions (McLean et al. 1994; the +-5 points an assumption). With Rosen & Sander's death curve no "
    "impact-speed mix reaches -30% at 60 km/h: deaths fall by d ln P / dv = slope x (1 - P) per km/h, so a "
    "collision at the full 60 km/h (P = 18%) loses 32% of its death risk at 55 km/h, and a braked one more (its "
    "impact speed falls by more than 5 km/h). Adelaide's -30% with 10% avoided needs deaths on a flatter, higher "
    "curve (older pedestrians and 1980s cars: Tefft 2013, a 70-year-old struck at v has the risk of a 30-year-old "
    "struck 19 km/h faster; no age mix of Almaty's struck pedestrians found). The death curve alone does not "
    "close it (2026-12-01, same scenario): with Tefft 2013's curve (in-depth weighted, as Adelaide's cases were) "
    "-49.2%, with Rosen & Sander's shifted +19 km/h -47.2%; the braked collisions' impact speeds fall by more than "
    "5 km/h. A wider lag spread softens it (-45.5% at log-sd 1.2) but lowers the avoided share (2.0%): no spread "
    "meets both Adelaide rows (risk.pedestrian.critical_lag.sigma_log). Davis 2001's severity model, the sourced "
    "alternative, was not reached beyond its abstract"
)


@pytest.mark.xfail(strict=False, reason=_CHANGE_GAP)
def test_fatal_collisions_fall_with_travelling_speed_as_in_adelaide() -> None:
    """McLean et al. 1994 (CR 146; Anderson et al. 1997, AAP 29:667): 5 km/h lower travelling speeds, -30% fatal
    pedestrian collisions (risk.pedestrian.evidence.fatal_collisions_change_at_5kph_slower, range an assumption)."""
    measured = adelaide_scenario()["change"]
    central, low, high = _evidence("fatal_collisions_change_at_5kph_slower")
    print(
        f"chain at {ADELAIDE_TRAVEL_KPH:.0f} km/h: fatal collisions {measured:+.1%} at 5 km/h less ({central:+.0%})"
    )
    assert low <= measured <= high


_AVOIDED_GAP = (
    "the chain avoids 4.0% of its fatal collisions at 5 km/h less (60 km/h, the same conflicts at the same places, "
    "central parameters, measured 2026-12-01 with the lag spread re-fitted after the traffic record's held flag, "
    "risk.pedestrian.critical_lag.sigma_log 0.87 -> 0.67; 2.9% at 0.87; there 5.9% at 50 km/h, 2.0% at 65; 0.7% before the pedestrians' lag "
    "acceptance, risk.pedestrian.critical_lag.*) against 10% in Adelaide's reconstructions (McLean et al. 1994). "
    "Pedestrians now step out in front of a vehicle coming straight at them only with a lag they accept, so most "
    "collisions are braked ones; the collisions 5 km/h less would avoid were at most about 41 km/h, where Rosen & "
    "Sander's death risk is about 4%, so they are few of the deaths. Adelaide's 10% needs more deaths at braked, "
    "low impact speeds: older pedestrians (Tefft 2013: a 70-year-old struck at v has the risk of a 30-year-old "
    "struck 19 km/h faster; risk.pedestrian.injury_speed_shift_kph, +-5 km/h, an assumption; no age mix of "
    "Almaty's struck pedestrians found). 4.9% with Tefft 2013's death curve; a narrower lag spread gives more "
    "braked collisions at low impact speeds (7.9% at log-sd 0.4, 14.5% at the source's ~0.19, measured "
    "2026-12-01) but then deaths fall by 59-66% at 5 km/h less against Adelaide's 30%: no spread meets both rows "
    "(risk.pedestrian.critical_lag.sigma_log)"
)


@pytest.mark.xfail(strict=False, reason=_AVOIDED_GAP)
def test_a_tenth_of_fatal_collisions_avoided_at_5kph_less_as_in_adelaide() -> None:
    """McLean et al. 1994: at 5 km/h lower travelling speeds 10% of the fatal pedestrian collisions would have been
    avoided altogether (risk.pedestrian.evidence.fatal_collisions_avoided_at_5kph_slower, range an assumption)."""
    measured = adelaide_scenario()["avoided"]
    central, low, high = _evidence("fatal_collisions_avoided_at_5kph_slower")
    print(
        f"chain at {ADELAIDE_TRAVEL_KPH:.0f} km/h: {measured:.1%} of fatal collisions avoided ({central:.0%})"
    )
    assert low <= measured <= high


# --------------------------------------------------------------------------------------------------------------
# The network's pedestrian casualties by impact speed (real pipeline, slow)
# --------------------------------------------------------------------------------------------------------------
Curve = Callable[..., npt.NDArray[np.float64]]


@dataclasses.dataclass(frozen=True)
class ImpactShares:
    """Shares of the chain's raw pedestrian collisions and deaths by impact speed, summed over the replications."""

    collisions_at_30kph_or_less: float
    collisions_at_30mph_or_less: float
    deaths_at_30mph_or_less: float


def _deaths_counting(
    original: Curve, weight: Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]]
) -> Curve:
    """The chain's severity curves with the death curve replaced by ``weight(impact speed)``: the pipeline's raw
    pedestrian "deaths" then sum ``weight`` over every collision, with every exposure and yielding factor."""

    def curve(
        impact_speed_kph: npt.ArrayLike, severity: str, *, parameters: object = None
    ) -> npt.NDArray[np.float64]:
        if severity != "fatal":
            return original(impact_speed_kph, severity, parameters=parameters)
        return weight(np.asarray(impact_speed_kph, dtype=np.float64))

    return curve


def _raw_pedestrian(result: object, severities: tuple[str, ...]) -> float:
    inj = result.injuries  # type: ignore[attr-defined]
    m = (inj["road_user"] == "pedestrian") & inj["severity"].isin(severities)
    return float(inj.loc[m, "per_year_raw"].sum())


@pytest.fixture(scope="module")
def impact_shares(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ImpactShares]:
    folder = tmp_path_factory.mktemp("impact")
    files = write_scenarios(folder, {})
    prepared = at_central_values(prepare(load_scenario(files["base"])))
    store = shared_traffic_store(tmp_path_factory)  # the baseline's traffic, simulated once in the session
    original = pedestrian_injury.pedestrian_injury_risk
    p = load_parameters().central()

    def fatal(v: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return original(v, "fatal", parameters=p)

    weights = {
        "collisions_30kph": lambda v: (v <= 30.0).astype(np.float64),
        "collisions_30mph": lambda v: (v <= MPH_30_KPH).astype(np.float64),
        "deaths_30mph": lambda v: np.where(v <= MPH_30_KPH, fatal(v), 0.0),
    }
    totals = {"collisions": 0.0, "deaths": 0.0, **dict.fromkeys(weights, 0.0)}
    for r in range(REPLICATIONS):
        res = run_replication(prepared, r, traffic_store=store)  # the traffic is simulated once, then reused
        totals["collisions"] += _raw_pedestrian(res, ("fatal", "serious", "slight"))
        totals["deaths"] += _raw_pedestrian(res, ("fatal",))
        for key, weight in weights.items():
            with pytest.MonkeyPatch.context() as mp:
                mp.setattr(pedestrian_conflict, "pedestrian_injury_risk", _deaths_counting(original, weight))
                pedestrian_conflict._cached_table.cache_clear()
                try:
                    counted = run_replication(prepared, r, traffic_store=store)
                finally:
                    pedestrian_conflict._cached_table.cache_clear()
            totals[key] += _raw_pedestrian(counted, ("fatal",))
    yield ImpactShares(
        collisions_at_30kph_or_less=totals["collisions_30kph"] / totals["collisions"],
        collisions_at_30mph_or_less=totals["collisions_30mph"] / totals["collisions"],
        deaths_at_30mph_or_less=totals["deaths_30mph"] / totals["deaths"],
    )


_RICHARDS_GAP = (
    "the chain's pedestrian deaths at impact <= 30 mph: 34.2% on the small schematic network (central "
    "parameters, 2 replications, 2026-12-01, load ~12; its collisions: 88.0% at impact <= 30 km/h and 93.6% at "
    "<= 30 mph) after the record's 'stopped' became the event loop's held flag (fewer starts from rest) and the "
    "lag spread was re-fitted to the same death share (0.87 -> 0.67); 35.9% before (89.7% / 94.3%), 33.3% "
    "before junction crossings took every leg's pedestrians, issue 13) against about half in Richards 2010 (TRL, read in the Road Safety Observatory's summary; 40-60% "
    "an assumption); 6.4% before the pedestrians' lag acceptance (risk.pedestrian.critical_lag.*). An independent "
    "check of the fitted lag spread (risk.pedestrian.critical_lag.sigma_log, fitted to the death share): fitted "
    "to the calibration targets' 1.5% deaths (log-sd 0.66) this row passed at 45.4% before the held flag; at the "
    "shipped fit to 2.1% deaths (between the targets' 1.5% and Almaty police's 3.0%) it does not. The deaths above 30 mph come from through traffic on the "
    "main streets (69 km/h mean on primary streets under a 60 limit): Richards' data come from 30 mph streets"
)


@pytest.mark.slow
@pytest.mark.xfail(strict=False, reason=_RICHARDS_GAP)
def test_half_the_pedestrian_deaths_at_impact_30mph_or_less(impact_shares: ImpactShares) -> None:
    """Richards 2010: approximately half of pedestrian fatalities at an impact speed of 30 mph or below
    (risk.pedestrian.evidence.deaths_share_at_impact_30mph_or_less; checked in the Road Safety Observatory's summary of
    the report, range an assumption)."""
    central, low, high = _evidence("deaths_share_at_impact_30mph_or_less")
    s = impact_shares
    print(
        f"SCHEMATIC small network: pedestrian collisions at impact <= 30 km/h {s.collisions_at_30kph_or_less:.1%}, "
        f"<= 30 mph {s.collisions_at_30mph_or_less:.1%}; deaths at impact <= 30 mph "
        f"{s.deaths_at_30mph_or_less:.1%} (Richards 2010: about {central:.0%})"
    )
    assert low <= s.deaths_at_30mph_or_less <= high
