"""The targets file of a batch: plain text or CSV, refused whole with line numbers when broken."""

from __future__ import annotations

from pathlib import Path

import pytest

from cyberscan.batch import Target, fingerprint, parse_targets, read_targets
from cyberscan.errors import ConfigError


def test_plain_text_with_comments_urls_and_duplicates() -> None:
    got = parse_targets("# musea\nmuseum.test\n\nhttps://www.Archief.test/over  # the archive\n"
                        "info@bieb.test\nMUSEUM.test.\n")
    assert [t.domain for t in got.targets] == ["museum.test", "www.archief.test", "bieb.test"]
    assert got.duplicates == 1 and not got.csv
    assert got.targets[1].line == 4


@pytest.mark.parametrize("sep", [",", ";", "\t"])
def test_csv_with_organisation_sector_and_hosts(sep: str) -> None:
    text = sep.join(["Domain", "Organisation", "Sector", "Hosts", "notes"]) + "\n" + \
        sep.join(["museum.test", "Het Museum", "museum", "shop.museum.test collectie.museum.test", "x"]) + "\n" + \
        sep.join(["archief.test", '"Archief, Regionaal"' if sep == "," else "Archief, Regionaal", "archief", "", ""]) + "\n"
    got = parse_targets(text)
    assert got.csv
    assert got.targets[0] == Target("museum.test", "Het Museum", "museum",
                                    ("shop.museum.test", "collectie.museum.test"), 2)
    assert got.targets[1].organisation == "Archief, Regionaal" and got.targets[1].hosts == ()


def test_a_broken_file_is_refused_whole_with_line_numbers() -> None:
    with pytest.raises(ConfigError) as err:
        parse_targets("museum.test\n10.0.0.1\nnot a domain!\narchief.test\n")
    assert err.value.key == "targets.bad-lines"
    assert err.value.params["count"] == 2
    assert err.value.params["lines"].startswith("2: domain.ip-address:10.0.0.1; 3: domain.invalid")
    assert "regel" in err.value.message("nl")


def test_csv_row_without_domain_and_control_characters() -> None:
    with pytest.raises(ConfigError) as err:
        parse_targets("domain,organisation\n,Geen domein\n")
    assert err.value.params["lines"].startswith("2: domain.empty")
    got = parse_targets("domain,organisation\nmuseum.test,\"Evil\x1b[31m\u2028Org\"\n")
    assert got.targets[0].organisation == "Evil [31m Org"


@pytest.mark.parametrize(("text", "key"), [("", "targets.empty"), ("# only a comment\n\n", "targets.empty"),
                                           ("x" * 5000 + "\n", "targets.line-too-long")])
def test_empty_and_hostile_files(text: str, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_targets(text)
    assert err.value.key == key


def test_files_that_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        read_targets(tmp_path / "missing.txt")
    assert err.value.key == "targets.not-found"
    with pytest.raises(ConfigError) as err:
        read_targets(tmp_path)
    assert err.value.key == "targets.not-a-file"
    bad = tmp_path / "latin1.txt"
    bad.write_bytes(b"museum.test\nmus\xe9e.test\n")
    with pytest.raises(ConfigError) as err:
        read_targets(bad)
    assert (err.value.key, err.value.params["line"]) == ("targets.not-utf8", 2)
    bom = tmp_path / "bom.csv"
    bom.write_bytes("\ufeffdomain;sector\nmuseum.test;museum\n".encode())
    assert read_targets(bom).targets[0].sector == "museum"


def test_fingerprint_follows_the_domains_and_settings_not_the_order_of_reading() -> None:
    a = parse_targets("museum.test\narchief.test\n").targets
    b = parse_targets("domain\nmuseum.test\narchief.test\n").targets
    assert fingerprint(a, "default") == fingerprint(b, "default")
    assert fingerprint(a, "default") != fingerprint(a, "klein-museum")
    assert fingerprint(a[:1], "default") != fingerprint(a, "default")
