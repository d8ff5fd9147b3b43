"""Iceberg row filters by column name (pyiceberg's constructors are typed for bound terms)."""

from __future__ import annotations

from typing import Any

from pyiceberg import expressions as ex
from pyiceberg.expressions import BooleanExpression


def _make(kind: Any, column: str, value: Any) -> BooleanExpression:
    expression: BooleanExpression = kind(column, value)
    return expression


def eq(column: str, value: Any) -> BooleanExpression:
    return _make(ex.EqualTo, column, value)


def lt(column: str, value: Any) -> BooleanExpression:
    return _make(ex.LessThan, column, value)


def le(column: str, value: Any) -> BooleanExpression:
    return _make(ex.LessThanOrEqual, column, value)


def gt(column: str, value: Any) -> BooleanExpression:
    return _make(ex.GreaterThan, column, value)


def ge(column: str, value: Any) -> BooleanExpression:
    return _make(ex.GreaterThanOrEqual, column, value)


def isin(column: str, values: list[Any]) -> BooleanExpression:
    return _make(ex.In, column, values)


def both(left: BooleanExpression, right: BooleanExpression) -> BooleanExpression:
    return ex.And(left, right)


def either(left: BooleanExpression, right: BooleanExpression) -> BooleanExpression:
    return ex.Or(left, right)
