"""The README's configuration table is generated from the Settings field descriptions."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.cli import config_table
from worker.settings import Settings

README = Path(__file__).resolve().parents[3] / "README.md"


def _between_markers(text: str) -> str:
    start = text.index(config_table.START_MARKER) + len(config_table.START_MARKER)
    return text[start : text.index(config_table.END_MARKER)]


def test_readme_contains_exactly_the_rendered_table() -> None:
    readme = README.read_text(encoding="utf-8")
    assert _between_markers(readme) == "\n" + config_table.render(), (
        "README.md is stale: run `python -m worker.cli.config_table --write README.md`"
    )


def test_readme_table_sits_under_the_configuration_heading() -> None:
    readme = README.read_text(encoding="utf-8")
    heading = readme.index("\n## Configuration\n")
    assert heading < readme.index(config_table.START_MARKER)


def test_every_settings_field_has_a_row_with_its_description() -> None:
    rows = config_table.render().splitlines()[2:]
    expected = [
        f"| `{name.upper()}` | {field.description} |"
        for name, field in Settings.model_fields.items()
    ]
    assert len(rows) == len(expected)
    for row, start in zip(rows, expected, strict=True):
        assert row.startswith(start)


def test_unset_defaults_render_as_a_dash_and_lists_as_the_env_syntax() -> None:
    rows = {row.split(" | ")[0]: row for row in config_table.render().splitlines()}
    assert rows["| `AGORA_APP_ID`"].endswith("| — |")
    assert rows["| `AGORA_API_URLS`"].endswith("| `https://api.sd-rtn.com,https://api.agora.io` |")


def test_replace_table_changes_only_the_text_between_the_markers() -> None:
    start, end = config_table.START_MARKER, config_table.END_MARKER
    updated = config_table.replace_table(f"# T\n{start}\nold\n{end}\ntail\n", "| new |\n")
    assert updated == f"# T\n{start}\n| new |\n{end}\ntail\n"


def test_replace_table_without_markers_raises_marker_error() -> None:
    with pytest.raises(config_table.MarkerError):
        config_table.replace_table("# no markers here\n", "| t |\n")


def test_check_exits_1_on_a_stale_file(tmp_path: Path) -> None:
    target = tmp_path / "README.md"
    target.write_text(f"{config_table.START_MARKER}\nold\n{config_table.END_MARKER}\n")
    assert config_table.main(["--check", str(target)]) == 1


def test_write_refreshes_a_stale_file_so_check_passes(tmp_path: Path) -> None:
    target = tmp_path / "README.md"
    target.write_text(f"{config_table.START_MARKER}\nold\n{config_table.END_MARKER}\n")
    assert config_table.main(["--write", str(target)]) == 0
    assert config_table.main(["--check", str(target)]) == 0
    assert "`REDIS_URL`" in target.read_text()


def test_write_to_a_file_without_markers_fails_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "README.md"
    target.write_text("# nothing\n")
    assert config_table.main(["--write", str(target)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
