"""The README's nets table is generated from the registry and the weights manifest."""

from __future__ import annotations

import re

from helpers import REPO

from cifarnets.cli import main


def test_readme_nets_table_is_current(capsys):
    assert main(["list", "--markdown"]) == 0
    generated = capsys.readouterr().out.strip()
    readme = (REPO / "README.md").read_text()
    match = re.search(r"<!-- nets-table:.*?-->\n(.*?)\n<!-- /nets-table -->", readme, re.S)
    assert match, "README.md lost its <!-- nets-table --> markers"
    assert match.group(1).strip() == generated, (
        "README.md's nets table is out of date: replace it with `cifarnets list --markdown`"
    )
