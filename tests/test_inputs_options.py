"""An option that sibling commands share is read and checked the same way by each."""

from __future__ import annotations

import argparse

from attnlab.cli import explain, report


def option(parser: argparse.ArgumentParser, flag: str) -> argparse.Action:
    return next(action for action in parser._actions if flag in action.option_strings)


def test_report_and_explain_agree_on_their_shared_options() -> None:
    reporting, explaining = report.build_parser(), explain.build_parser()
    for flag in ("--format", "--profile", "--storage", "--logs", "--output"):
        mine, theirs = option(reporting, flag), option(explaining, flag)
        assert (mine.choices, mine.default, mine.type) == (theirs.choices, theirs.default, theirs.type), flag
    assert option(explaining, "--format").choices == ("table", "json")
