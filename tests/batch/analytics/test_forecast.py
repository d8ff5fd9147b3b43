"""Forecast: intervals, closed hours, too little history, backtest against the seasonal-naive baseline."""

from __future__ import annotations

from functools import cache

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from batch.analytics.forecast import DAY_MS, HOUR_MS, ForecastConfig, forecast_sites, history_end_ms, hour_of_week
from batch.analytics.source import Period, hourly_sentiment
from tests.support.history import history, lake


@cache
def _results():
    h = history()
    return forecast_sites(hourly_sentiment(lake(), Period(h.start_ms, h.end_ms)), h.end_ms), h


def test_seven_days_by_hour_with_nested_intervals_and_no_sentiment_when_closed() -> None:
    results, h = _results()
    assert [r.site for r in results] == sorted(h.sites)
    for result in results:
        assert result.status == "ok"
        f = result.forecast
        assert len(f) == 7 * 24 and f["hour_ms"].iloc[0] == h.end_ms
        is_open = f[f["open"]]
        rated = is_open[is_open["net"].notna()]  # an open hour expecting too few customers says no net score
        assert len(rated) > 0.8 * len(is_open)
        assert (rated["net_lo95"] <= rated["net_lo80"]).all() and (rated["net_lo80"] <= rated["net"]).all()
        assert (rated["net"] <= rated["net_hi80"]).all() and (rated["net_hi80"] <= rated["net_hi95"]).all()
        assert (is_open["visits_lo95"] <= is_open["visits"]).all()
        assert (is_open["visits"] <= is_open["visits_hi95"]).all()
        closed = f[~f["open"]]
        assert len(closed) > 0 and closed["net"].isna().all() and (closed["visits"] == 0).all()
    # The shop closes on Sundays: its Sunday forecast is closed, not a zero mood.
    shop = next(r for r in results if r.site == "shop-east").forecast
    sundays = shop[hour_of_week(shop["hour_ms"].to_numpy()) // 24 == 6]
    assert not sundays["open"].any()


def test_backtest_beats_the_seasonal_naive_baseline_and_intervals_cover() -> None:
    results, _ = _results()
    for result in results:
        b = result.backtest
        assert b.folds >= 1 and b.hours > 50
        assert b.net_mae < b.naive_net_mae and b.visits_mae < b.naive_visits_mae, result.site
        assert 0.85 <= b.coverage95 <= 1.0 and b.coverage80 >= 0.6, result.site


def test_the_bad_evening_is_flagged_as_anomalous_and_little_else_is() -> None:
    results, h = _results()
    bad = next(i for i in h.incidents if i.kind == "bad_evening")
    result = next(r for r in results if r.site == bad.site_id)
    net = result.anomalies[result.anomalies["measure"] == "net_score"]
    bad_hours = set(range(bad.start_ms, bad.end_ms, HOUR_MS))
    assert len(set(net["hour_ms"]) & bad_hours) >= 2
    assert all(net.loc[net["hour_ms"].isin(bad_hours), "z"] < 0)
    for other in results:
        assert (other.anomalies["measure"] == "net_score").sum() <= 6, other.site  # a short list, not noise


def test_the_silent_camera_shows_as_missing_visits() -> None:
    results, h = _results()
    silent = next(i for i in h.incidents if i.kind == "silent_camera")
    anomalies = next(r for r in results if r.site == silent.site_id).anomalies
    during = anomalies[(anomalies["measure"] == "visits") & (anomalies["hour_ms"] >= silent.start_ms)
                       & (anomalies["hour_ms"] < silent.end_ms)]
    assert len(during) >= 1 and (during["z"] < 0).all() and (during["actual"] < during["expected"]).all()


def test_a_site_with_too_little_history_says_so_instead_of_forecasting() -> None:
    h = history()
    recent = Period(h.end_ms - 10 * DAY_MS, h.end_ms)
    results = forecast_sites(hourly_sentiment(lake(), recent), h.end_ms, ForecastConfig(min_history_days=21))
    assert results and all(r.status.startswith("too little history") for r in results)
    assert all(r.forecast.empty for r in results)


def test_hour_of_week_starts_on_monday() -> None:
    monday_ms = 1_789_344_000_000  # 2026-09-14 00:00 UTC, a Monday
    assert list(hour_of_week(np.array([monday_ms, monday_ms + 25 * HOUR_MS, monday_ms + 7 * DAY_MS - HOUR_MS]))) == [
        0, 25, 167]


def test_the_dashboard_gets_one_sites_open_hours_and_several_sites_need_a_choice(tmp_path) -> None:
    import json

    import pytest

    from moodlens.commands.batch_analytics import write_dashboard_forecast

    results, _ = _results()
    site = results[0].site
    write_dashboard_forecast(tmp_path / "forecast.json", results, site)
    points = json.loads((tmp_path / "forecast.json").read_text())
    opened = results[0].forecast[results[0].forecast["open"]]
    assert [p[0] for p in points] == [int(t) for t in opened["hour_ms"]] and len(points) > 0
    assert all(-1 <= p[1] <= 1 for p in points)
    with pytest.raises(ValueError, match="name one with --site"):
        write_dashboard_forecast(tmp_path / "other.json", results, None)


def test_history_ends_after_the_latest_events_hour_only_once_that_hour_is_over() -> None:
    latest = 10 * DAY_MS + 13 * HOUR_MS + 30 * 60_000
    assert history_end_ms(latest, now_ms=latest + 60_000) == 10 * DAY_MS + 13 * HOUR_MS  # 13:00 still filling
    assert history_end_ms(latest, now_ms=10 * DAY_MS + 14 * HOUR_MS) == 10 * DAY_MS + 14 * HOUR_MS
    assert history_end_ms(latest, now_ms=20 * DAY_MS) == 10 * DAY_MS + 14 * HOUR_MS


@given(latest=st.integers(0, 10**13), ahead=st.integers(0, 10**9))
def test_history_never_ends_in_the_future_nor_leaves_out_a_finished_hour(latest: int, ahead: int) -> None:
    now = latest + ahead
    end = history_end_ms(latest, now)
    assert end % HOUR_MS == 0 and end <= now
    assert end > latest or now < end + HOUR_MS  # the latest event's hour is left out only while it is not over


def test_a_lake_cut_mid_afternoon_forecasts_from_that_hour_without_flagging_the_empty_rest_of_the_day() -> None:
    """The lake as compaction leaves it mid-day: events up to 14:20 of the last day, now 14:25."""
    h = history()
    cut = h.end_ms - DAY_MS + 14 * HOUR_MS + 20 * 60_000
    end = history_end_ms(cut, now_ms=cut + 5 * 60_000)
    hourly = hourly_sentiment(lake(), Period(h.start_ms, cut))
    for result in forecast_sites(hourly, end):
        assert result.status == "ok" and result.forecast["hour_ms"].iloc[0] == end == cut // HOUR_MS * HOUR_MS
        late = result.anomalies[result.anomalies["hour_ms"] >= end - HOUR_MS]
        assert late.empty, f"{result.site}: the unfinished hour or after flagged: {late}"
    # Before, history ran to the next midnight: the afternoon and evening nobody could yet have
    # visited read as open, empty hours and were flagged as anomalies.
    midnight = (cut // DAY_MS + 1) * DAY_MS
    flagged = [r.anomalies[(r.anomalies["hour_ms"] >= end) & (r.anomalies["measure"] == "visits")]
               for r in forecast_sites(hourly, midnight)]
    assert sum(len(f) for f in flagged) > 0


def test_an_hour_of_the_week_with_one_customer_says_no_net_score_that_would_give_theirs_back() -> None:
    """Four weeks of a café open 9 to 18 every day, 20 customers an hour; on Sundays one customer also comes
    at 18:00 and looks happy. The model fits Sunday 18:00 to that customer (+1.00 with narrow bands); the
    forecast says its visits but no net score there, and still says the busy hours'."""
    import pandas as pd

    start = 1_795_000_000_000 // (7 * DAY_MS) * (7 * DAY_MS) + 4 * DAY_MS  # a Monday 00:00 UTC
    rows = []
    for day in range(28):
        for hour in range(9, 18):
            rows.append((start + day * DAY_MS + hour * HOUR_MS, 20, 20, 8 + (day + hour) % 5, 6))
        if day % 7 == 6:  # Sunday
            rows.append((start + day * DAY_MS + 18 * HOUR_MS, 1, 1, 1, 0))
    hours = pd.DataFrame(rows, columns=["hour_ms", "visits", "tracks", "positive", "negative"]).assign(site_id="cafe")
    end = start + 28 * DAY_MS
    f = forecast_sites(hours, end, ForecastConfig(min_tracks=5))[0].forecast
    how = hour_of_week(f["hour_ms"].to_numpy())
    sunday_evening = f[how == 6 * 24 + 18]
    assert sunday_evening["open"].all() and (sunday_evening["visits"] > 0).all()
    assert sunday_evening[["net", "net_lo80", "net_hi80", "net_lo95", "net_hi95"]].isna().all().all()
    busy = f[f["open"] & (how % 24 == 12)]
    assert len(busy) == 7 and busy["net"].notna().all()
