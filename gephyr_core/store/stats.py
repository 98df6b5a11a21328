"""Token statistics read from the hourly rollup (observability.md §3)."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from typing import Any

from gephyr_core.store.db import Store
from gephyr_core.store.logs import hour_bucket

_SUMS = (
    "sum(input_tokens) AS total_input_tokens, sum(output_tokens) AS total_output_tokens,"
    " sum(total_tokens) AS total_tokens, sum(request_count) AS request_count"
)


def _since(hours: int, now: float | None) -> str:
    """The first hour bucket of the last `hours` hours (the current hour included)."""
    return hour_bucket((time.time() if now is None else now) - (hours - 1) * 3600)


def _query(store: Store, sql: str, args: list[Any]) -> list[dict[str, Any]]:
    with store.reading() as db:
        return list(db.query(sql, args))


def periods(store: Store, hours: int, width: int, now: float | None = None) -> list[dict[str, Any]]:
    """Totals per period: `width` 16 groups by hour bucket, 10 by day."""
    return _query(
        store,
        f"SELECT substr(hour_bucket, 1, {width}) AS period, {_SUMS} FROM token_usage_hourly"
        " WHERE hour_bucket >= ? GROUP BY period ORDER BY period",
        [_since(hours, now)],
    )


def weekly(store: Store, weeks: int, now: float | None = None) -> list[dict[str, Any]]:
    """Totals per ISO week (`YYYY-Www`), folded from the daily totals."""
    today = datetime.fromtimestamp(time.time() if now is None else now, UTC).date()
    first = date.fromordinal(today.toordinal() - today.weekday() - 7 * (weeks - 1))
    days = periods(store, (today.toordinal() - first.toordinal() + 1) * 24, 10, now)
    out: dict[str, dict[str, Any]] = {}
    for day in days:
        year, week, _ = date.fromisoformat(day["period"]).isocalendar()
        key = f"{year}-W{week:02d}"
        row = out.setdefault(
            key,
            {
                "period": key,
                "total_input_tokens": 0,
                "total_output_tokens": 0,
                "total_tokens": 0,
                "request_count": 0,
            },
        )
        for field in ("total_input_tokens", "total_output_tokens", "total_tokens", "request_count"):
            row[field] += day[field]
    return list(out.values())


def by(store: Store, key: str, hours: int, now: float | None = None) -> list[dict[str, Any]]:
    """Totals per account (`key` "account") or model, biggest first."""
    cols = "account_id, max(account_email) AS account_email" if key == "account" else "model"
    group = "account_id" if key == "account" else "model"
    return _query(
        store,
        f"SELECT {cols}, {_SUMS} FROM token_usage_hourly WHERE hour_bucket >= ?"
        f" GROUP BY {group} ORDER BY total_tokens DESC",
        [_since(hours, now)],
    )


def summary(store: Store, hours: int, now: float | None = None) -> dict[str, Any]:
    rows = _query(
        store,
        "SELECT coalesce(sum(input_tokens), 0) AS total_input_tokens,"
        " coalesce(sum(output_tokens), 0) AS total_output_tokens,"
        " coalesce(sum(total_tokens), 0) AS total_tokens, coalesce(sum(request_count), 0) AS total_requests,"
        " count(DISTINCT account_id) AS unique_accounts FROM token_usage_hourly WHERE hour_bucket >= ?",
        [_since(hours, now)],
    )
    return rows[0]


def trend(store: Store, key: str, hours: int, width: int, now: float | None = None) -> list[dict[str, Any]]:
    """`[{period, model_data | account_data: {name: total_tokens}}]`, periods ascending."""
    name = "model" if key == "model" else "account_email"
    rows = _query(
        store,
        f"SELECT substr(hour_bucket, 1, {width}) AS period, coalesce({name}, account_id) AS name,"
        " sum(total_tokens) AS total FROM token_usage_hourly WHERE hour_bucket >= ?"
        " GROUP BY period, name ORDER BY period",
        [_since(hours, now)],
    )
    out: dict[str, dict[str, int]] = {}
    for row in rows:
        out.setdefault(row["period"], {})[row["name"]] = row["total"]
    field = f"{key}_data"
    return [{"period": p, field: data} for p, data in out.items()]


def clear(store: Store) -> None:
    with store.transaction() as db:
        db.execute("DELETE FROM token_usage")
        db.execute("DELETE FROM token_usage_hourly")
