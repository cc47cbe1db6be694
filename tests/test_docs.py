"""The README's tables match the registry and the weights manifest."""

from __future__ import annotations

import re

from helpers import REPO

from cifarnets.cli import main
from cifarnets.reference import REFERENCES


def test_readme_nets_table_is_current(capsys):
    assert main(["list", "--markdown"]) == 0
    generated = capsys.readouterr().out.strip()
    readme = (REPO / "README.md").read_text()
    match = re.search(r"<!-- nets-table:.*?-->\n(.*?)\n<!-- /nets-table -->", readme, re.S)
    assert match, "README.md lost its <!-- nets-table --> markers"
    assert match.group(1).strip() == generated, (
        "README.md's nets table is out of date: replace it with `cifarnets list --markdown`"
    )


def test_readme_own_weights_pair_matches_the_manifest():
    """The hand-written resnet20/plain20 table beside the report's row: each bold number
    is the published weight's error (re-measured on the test set by test_published)."""
    import cifarnets

    readme = (REPO / "README.md").read_text()
    rows = re.findall(
        r"^\| (\w+) \| [^|]+ \| \*\*([\d.]+) %\*\* \| ([^|]+) \| ([^|]+) \| "
        r"<= ([\d.]+) %",
        readme,
        re.M,
    )
    assert {row[0] for row in rows} >= {"resnet20", "plain20"}, rows
    for net, error, report, paper, target in rows:
        assert cifarnets.get_weights(f"{net}.cifar10_v1").test_error == float(error), net
        ref = REFERENCES[net]
        assert [report.strip(), paper.strip()] == [
            f"{v} %" if v else "-" for v in (ref.report, ref.paper)
        ], net
        assert float(target) == ref.target, net


def test_no_shipped_text_calls_the_lab_report_a_seed_report():
    # A reader cannot know what the project once called its starting report; the README
    # names the lab report once, and every text says "the lab report".
    import subprocess

    phrase = "seed" + " report"  # spelled apart, so that this file does not match itself
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    offenders = [
        name
        for name in tracked
        if (REPO / name).is_file()
        and (REPO / name).suffix in (".py", ".md", ".sh", ".toml", ".json", ".txt")
        and phrase in (REPO / name).read_text(errors="ignore").lower()
    ]
    assert not offenders, offenders
