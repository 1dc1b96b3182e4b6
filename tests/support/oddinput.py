"""Odd numbers and shapes for property-based tests: what a hand-made request can carry."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# The values that broke number parsing before: not finite, far out of range, or not numbers.
ODD_NUMBER_TEXTS = (
    "inf",
    "-inf",
    "Infinity",
    "nan",
    "NaN",
    "1e308",
    "-1e308",
    "1e999999999",
    "9" * 400,
    "-1",
    "0x10",
    "1_000",
    "½",
)

number_texts = st.one_of(
    st.sampled_from(ODD_NUMBER_TEXTS),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**400), max_value=10**400).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.text(max_size=40),
)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)

# Each example is a request through the test client, inside one test's transaction.
views_settings = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)
