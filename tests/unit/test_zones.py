"""One check for every `timezone` argument: IANA names of the installed tz database only."""

from __future__ import annotations

import pytest

from usagegraph.errors import BadUserInput
from usagegraph.resolvers.zones import zone


@pytest.mark.parametrize("name", ["UTC", "America/New_York", "Asia/Kathmandu", "Etc/GMT+5"])
def test_iana_names_resolve(name: str) -> None:
    assert zone(name).key == name


@pytest.mark.parametrize(
    "name",
    # a name longer than the file system takes (the lookup used to raise OSError: a masked 500), a path,
    # files of the tz database that are not zones, NUL, nothing
    ["x" * 5000, "../../etc/passwd", "/etc/localtime", "localtime", "posixrules", "Factory", "UTC\x00", ""],
)
def test_anything_else_is_bad_user_input_naming_the_argument(name: str) -> None:
    with pytest.raises(BadUserInput) as refused:
        zone(name)
    assert refused.value.argument == "timezone"
