"""Drivers: planted effects come back within their intervals; the null kind's interval covers 0."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batch.analytics.drivers import BusinessEventsError, estimate_drivers, parse_business_events
from batch.analytics.source import Period, hourly_sentiment
from batch.analytics.synthetic import PLANTED_EFFECTS, business_csv_lines
from tests.support.history import history, lake


def test_planted_effects_are_recovered_and_the_null_kind_covers_zero() -> None:
    h = history()
    business = parse_business_events(list(business_csv_lines(h)))
    result = estimate_drivers(hourly_sentiment(lake(), Period(h.start_ms, h.end_ms)), business)
    found = {d.kind: d for d in result.drivers}
    assert set(found) == set(PLANTED_EFFECTS)
    for kind, truth in PLANTED_EFFECTS.items():
        d = found[kind]
        assert d.low is not None and d.high is not None and d.effect is not None
        assert d.low <= truth <= d.high, (kind, d)
    low, high = found["promotion"].low, found["queue_length"].high
    assert low is not None and low > 0 and high is not None and high < 0  # real effects are told apart from 0
    assert "not proof of cause" in result.caveat


@pytest.mark.parametrize(("text", "message"), [
    ("", "line 1: the file is empty"),
    ("time,site,value\n", "header lacks column(s) kind"),
    ("time,site,kind,value\n2026-10-01T12:00:00Z,cafe-1,promo,1\n2026-10-01T12:00:00,cafe-1,promo,1\n",
     "line 3: time: time '2026-10-01T12:00:00' has no time zone"),
    ("time,site,kind,value\n2026-10-01T12:00:00Z,cafe-1,promo,lots\n", "line 2: value: 'lots' is not a number"),
    ("time,site,kind,value\n2026-10-01T12:00:00Z,cafe 1,promo,1\n", "line 2: site: 'cafe 1'"),
    ("time,site,kind,value\nyesterday,cafe-1,promo,1\n", "line 2: time:"),
    ("time,site,kind,value\n2026-10-01T12:00:00Z,cafe-1,promo,nan\n", "line 2: value: 'nan' is not finite"),
    ("time,site,kind,value\n2026-10-01T12:00:00Z,cafe-1\n", "line 2: 2 column(s), the header has 4"),
])
def test_bad_business_files_name_the_line_and_the_reason(text: str, message: str) -> None:
    with pytest.raises(BusinessEventsError) as error:
        parse_business_events(text.splitlines(keepends=True), "business.csv")
    assert message in str(error.value) and str(error.value).startswith("business.csv:")


def test_every_bad_line_is_reported_not_just_the_first() -> None:
    text = "time,site,kind,value\n" + "".join(f"2026-10-01T12:00:00Z,cafe-1,promo,x{i}\n" for i in range(30))
    with pytest.raises(BusinessEventsError) as error:
        parse_business_events(text.splitlines(keepends=True))
    assert len(error.value.problems) == 30 and "and 10 more" in str(error.value)


@given(st.lists(st.tuples(st.integers(1_700_000_000_000, 1_900_000_000_000), st.sampled_from(["cafe-1", "shop.2"]),
                          st.sampled_from(["promotion", "queue_length", "staff_on_shift"]),
                          st.floats(-1e6, 1e6, allow_nan=False)), max_size=30),
       st.integers(0, 30))
def test_valid_rows_parse_back_exactly_and_one_bad_value_is_named_by_its_line(
        rows: list[tuple[int, str, str, float]], bad_at: int) -> None:
    lines = ["time,site,kind,value"] + [
        f"{datetime.fromtimestamp(t / 1000, UTC).isoformat().replace('+00:00', 'Z')},{s},{k},{v!r}"
        for t, s, k, v in rows]
    parsed = parse_business_events(lines)
    assert parsed[["time_ms", "site_id", "kind", "value"]].values.tolist() == [list(r) for r in rows]
    assert (parsed["utc_offset_min"] == 0).all()  # written in UTC
    if bad_at < len(rows):
        lines[bad_at + 1] = lines[bad_at + 1].rsplit(",", 1)[0] + ",n/a"
        with pytest.raises(BusinessEventsError) as error:
            parse_business_events(lines)
        assert error.value.problems == [f"line {bad_at + 2}: value: 'n/a' is not a number"]


@given(st.integers(0, 10_000))
def test_the_within_estimate_equals_the_regression_with_dummies(seed: int) -> None:
    """Same coefficients and HC3 standard errors as statsmodels' WLS with one dummy per cell."""
    import numpy as np
    import pandas as pd
    import statsmodels.api as sm

    from batch.analytics.drivers import within_wls_hc3

    rng = np.random.default_rng(seed)
    n = 120
    cells = rng.integers(0, 9, n)
    x = np.column_stack([rng.integers(0, 2, n), rng.normal(size=n)]).astype(float)
    w = rng.integers(5, 40, n).astype(float)
    y = 0.3 * x[:, 0] - 0.1 * x[:, 1] + rng.normal(size=9)[cells] + rng.normal(size=n) / np.sqrt(w)
    beta, se = within_wls_hc3(y, x, w, cells.astype(str))
    dummies = pd.get_dummies(pd.Series(cells.astype(str)), drop_first=True, dtype=float)
    design = np.column_stack([np.ones(n), x, dummies.to_numpy()])
    fit = sm.WLS(y, design, weights=w).fit(cov_type="HC3")
    assert np.allclose(beta, fit.params[1:3], rtol=1e-8, atol=1e-10)
    assert np.allclose(se, fit.bse[1:3], rtol=1e-6, atol=1e-10)


def test_a_business_file_written_in_another_time_zone_is_named() -> None:
    from batch.analytics.drivers import zone_mismatch

    lines = ["time,site,kind,value", "2026-10-02T12:00:00Z,cafe-1,promo,1", "2026-10-02T14:00:00+02:00,cafe-1,promo,1",
             "2026-10-02T17:30:00+05:30,cafe-1,promo,1"]
    business = parse_business_events(lines, "biz.csv")
    assert list(business["time_ms"]) == [int(datetime(2026, 10, 2, 12, tzinfo=UTC).timestamp() * 1000)] * 3
    message = zone_mismatch(business, "Europe/Berlin", "biz.csv")
    assert message is not None and message.startswith("biz.csv: 1 of 3 rows are written with UTC offset(s) +05:30")
    assert "[site] timezone = Europe/Berlin" in message
    assert zone_mismatch(business.iloc[:2], "Europe/Berlin", "biz.csv") is None  # UTC and the site's own offset


@given(st.floats(min_value=0.0, max_value=1.0))
def test_a_p_value_never_reads_as_a_certain_zero(p: float) -> None:
    from batch.analytics.drivers import p_text

    text = p_text(p)
    assert text != "0.000"
    assert text == "<0.001" if p < 0.0005 else abs(float(text) - p) <= 0.0005
