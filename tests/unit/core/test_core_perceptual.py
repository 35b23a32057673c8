"""hashmatch.perceptual: the licence file (load_licences) and the licence's discretion.

The licence file holds keys: it is refused unless only its owner may access it, and no
error, repr or message ever shows a key. Every key here is a synthetic string.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hashmatch.errors import ConfigurationError
from hashmatch.perceptual import LICENCE_FILE, VendorLicence, load_licences

KEY = "synthetic-licence-key-5c9e1"


def licence_file(tmp_path: Path, body: str, mode: int = 0o600) -> Path:
    path = tmp_path / LICENCE_FILE
    path.write_text(body, "utf-8")
    path.chmod(mode)
    return path


def test_each_table_is_one_vendor_with_its_fields_and_options(tmp_path: Path) -> None:
    path = licence_file(
        tmp_path,
        f"""
[test-vendor]
key = "{KEY}"
max_distance = 6
list = "/cases/vendor-list.txt"
max_bytes = 4096
strict = true
ratio = 0.5

[photodna-cloud]
key = "another-synthetic-key"
endpoint = "https://vendor.invalid/api"
library = "vendorlib:hash"
max_distance = 1.5
""",
    )
    licences = load_licences(path)
    assert sorted(licences) == ["photodna-cloud", "test-vendor"]
    test = licences["test-vendor"]
    assert (test.vendor, test.key, test.endpoint, test.library, test.max_distance) == (
        "test-vendor",
        KEY,
        None,
        None,
        6.0,
    )
    assert test.options == {
        "list": "/cases/vendor-list.txt",
        "max_bytes": "4096",
        "strict": "true",
        "ratio": "0.5",
    }
    cloud = licences["photodna-cloud"]
    assert (cloud.endpoint, cloud.library, cloud.max_distance) == (
        "https://vendor.invalid/api",
        "vendorlib:hash",
        1.5,
    )
    assert cloud.options == {}


def test_a_table_without_a_key_loads_with_an_empty_key(tmp_path: Path) -> None:
    # the service refuses to enable it (NotLicensed); the loader only reads
    path = licence_file(tmp_path, '[test-vendor]\nkey = "  "\n[other]\nmax_distance = 2\n')
    licences = load_licences(path)
    assert licences["test-vendor"].key == ""
    assert licences["other"].key == ""


def test_an_empty_file_has_no_licence(tmp_path: Path) -> None:
    assert load_licences(licence_file(tmp_path, "")) == {}


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o620, 0o601, 0o610, 0o700 | 0o004])
def test_a_file_others_may_access_is_refused_like_an_ssh_key(tmp_path: Path, mode: int) -> None:
    path = licence_file(tmp_path, f'[test-vendor]\nkey = "{KEY}"\n', mode)
    with pytest.raises(ConfigurationError) as caught:
        load_licences(path)
    assert f"chmod 600 {path}" in caught.value.render()
    assert f"mode {mode:03o}" in caught.value.render()
    assert KEY not in caught.value.render()


@pytest.mark.parametrize("mode", [0o600, 0o400, 0o700])
def test_a_file_only_its_owner_may_access_is_read(tmp_path: Path, mode: int) -> None:
    path = licence_file(tmp_path, f'[test-vendor]\nkey = "{KEY}"\n', mode)
    assert load_licences(path)["test-vendor"].key == KEY


def test_a_missing_file_or_a_folder_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no such licence file"):
        load_licences(tmp_path / "absent.toml")
    folder = tmp_path / "folder.toml"
    folder.mkdir(mode=0o700)
    with pytest.raises(ConfigurationError, match="not a regular file"):
        load_licences(folder)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (f'[test-vendor]\nkey = "{KEY}\n', "not valid TOML"),
        (f"[test-vendor]\nkey = {KEY}\n", "not valid TOML"),
        (f'[test-vendor]\nkey = "{KEY}"\nkey = "{KEY}2"\n', "not valid TOML"),
        (f'test-vendor = "{KEY}"\n', "'test-vendor' must be a table of its own"),
        (f'[test-vendor]\nkey = ["{KEY}"]\n', "[test-vendor] key must be text"),
        ("[test-vendor]\nkey = 12345\nendpoint = 5\n", "[test-vendor] key must be text"),
        (f'[test-vendor]\nkey = "{KEY}"\nendpoint = 5\n', "[test-vendor] endpoint must be text"),
        (f'[test-vendor]\nkey = "{KEY}"\nmax_distance = -1\n', "max_distance must be a number"),
        (f'[test-vendor]\nkey = "{KEY}"\nmax_distance = true\n', "max_distance must be a number"),
        (f'[test-vendor]\nkey = "{KEY}"\nmax_distance = "8"\n', "max_distance must be a number"),
        (f'[test-vendor]\nkey = "{KEY}"\nlist = ["{KEY}"]\n', "[test-vendor] list must be text"),
        (f'[test-vendor]\nkey = "{KEY}"\n[test-vendor.x]\na = 1\n', "[test-vendor] x must be"),
    ],
)
def test_a_bad_file_is_refused_without_quoting_a_value(
    tmp_path: Path, body: str, reason: str
) -> None:
    path = licence_file(tmp_path, body)
    with pytest.raises(ConfigurationError) as caught:
        load_licences(path)
    message = caught.value.render()
    assert message.startswith(f"{path}: ")
    assert reason in message
    assert KEY not in message
    assert KEY not in repr(caught.value)


def test_text_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / LICENCE_FILE
    path.write_bytes(b'[test-vendor]\nkey = "\xff\xfe"\n')
    path.chmod(0o600)
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        load_licences(path)


def test_a_licence_never_shows_its_key() -> None:
    licence = VendorLicence(
        vendor="test-vendor", key=KEY, endpoint="https://vendor.invalid", options={"a": "b"}
    )
    for shown in (repr(licence), str(licence), f"{licence}", f"{licence!r}", str([licence])):
        assert KEY not in shown
        assert "key='***'" in shown
        assert "test-vendor" in shown


_OPTION_NAMES = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\x7f", min_codepoint=0x20),
    min_size=1,
    max_size=12,
).filter(lambda n: n not in {"key", "endpoint", "library", "max_distance"})
_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x7f"), max_size=30)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(options=st.dictionaries(_OPTION_NAMES, _TEXT, max_size=5), key=_TEXT)
@example(options={"list": 'a "quoted"\\path\n'}, key="")
@example(options={"ünïcode": "🙂"}, key="k\x00k")
def test_every_text_option_comes_back_as_written(
    tmp_path: Path, options: dict[str, str], key: str
) -> None:
    lines = ["[test-vendor]", f"key = {json.dumps(key, ensure_ascii=False)}"]
    lines += [
        f"{json.dumps(name, ensure_ascii=False)} = {json.dumps(value, ensure_ascii=False)}"
        for name, value in options.items()
    ]
    path = licence_file(tmp_path, "\n".join(lines) + "\n")
    loaded = load_licences(path)["test-vendor"]
    assert loaded.options == options
    assert loaded.key == key.strip()
