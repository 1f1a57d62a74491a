"""Course licenses: SPDX license expressions, checked against the SPDX license list."""

from __future__ import annotations

from functools import lru_cache

from license_expression import Licensing, get_spdx_licensing

from server.floor.errors import Invalid


@lru_cache(maxsize=1)
def _licensing() -> Licensing:
    # license-expression ships the SPDX license list (ids and exceptions) as data.
    return get_spdx_licensing()


def check_license(value: str) -> str:
    """`value` as a normalised SPDX expression (e.g. `CC-BY-SA-4.0`); Invalid when unknown."""
    if not isinstance(value, str) or not value.strip():
        raise Invalid("license must be an SPDX license id such as CC-BY-SA-4.0")
    info = _licensing().validate(value.strip())
    if info.errors or not info.normalized_expression:
        unknown = ", ".join(info.invalid_symbols) or value
        raise Invalid(
            f"license {value!r} is not an SPDX license id ({unknown} unknown; see https://spdx.org/licenses/)"
        )
    return str(info.normalized_expression)
