"""The `pmm` app through typer's CliRunner and the installed console script."""
from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from conftest import run_pmm
from pmm.cli import app


def test_help_lists_prepare() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0 and "prepare" in result.output


def test_prepare_help_explains_options() -> None:
    result = run_pmm("prepare", "--help")
    assert result.returncode == 0
    for option in ("--site", "--workers", "--force", "--cache-dir", "--crop-size"):
        assert option in result.stdout


def test_unknown_site_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["prepare", "--site", "NOWHERE"], catch_exceptions=False)
    assert result.exit_code == 2
    assert "pmm: error: site 'NOWHERE' not found" in result.output and "Traceback" not in result.output


def test_prepare_in_process_with_cli_runner(brats_site: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["prepare", "--site", str(brats_site), "--cache-dir", str(tmp_path / "c"), "--workers", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "site BraTS: 3 cases" in result.output and "T1+T2+T1C+FLAIR: 3" in result.output


def _commands():
    import click
    import typer.main

    def walk(command, path):
        yield path, command
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, [*path, name])
    return [(path, command) for path, command in walk(typer.main.get_command(app), []) if isinstance(command, click.Command)]


def _flat(text: str) -> str:
    return " ".join(text.replace("│", " ").split())


def test_every_help_text_is_shown_whole() -> None:
    """Rich markup must not eat a help text's brackets ("[model]" once vanished from --config)."""
    from rich.text import Text

    for path, command in _commands():
        output = _flat(CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "400"}).output)
        doc = command.help or ""
        assert _flat(Text.from_markup(doc).plain) == _flat(doc.replace("\\[", "[")), f"pmm {' '.join(path)}: markup ate part of its description"
        for param in command.params:
            help_text = getattr(param, "help", None)
            if help_text:
                shown = _flat(Text.from_markup(help_text).plain)
                assert shown in output, f"pmm {' '.join(path)} {param.name}: help shown as something else"
                assert shown == _flat(help_text.replace("\\[", "[")), f"pmm {' '.join(path)} {param.name}: markup ate part of {help_text!r}"


def test_paper_recipe_help_describes_the_current_default() -> None:
    """`--paper-recipe` says what it turns off in numbers taken from PathologyOptions' defaults."""
    from pmm_core.config.model import PathologyOptions

    default = PathologyOptions()
    for path in (["train-central"], ["serve"], ["simulate"]):
        output = _flat(CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "400"}).output)
        assert f"lesion {default.oversampling:g}x as often" in output, path
        assert f"lesion label {1 + default.lesion_weight:g}x" in output, path
