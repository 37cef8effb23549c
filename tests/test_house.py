"""Tests that guard the house: exports import and are documented, every command's --help renders,
the shared options mean the same everywhere, and the doctests in coder/ run (httpx's
test_exported_members, sqlite-utils' test_docs.py)."""

import doctest
import importlib
import inspect
import pkgutil
import re
import types

import click
import pytest
from click.testing import CliRunner

import coder
from coder.cli import cli

# Every module of the package, found on disk, so a new module is covered without editing this file.
# coder.__main__ is left out: importing it runs the CLI.
MODULES = sorted(m.name for m in pkgutil.walk_packages(coder.__path__, "coder.") if m.name != "coder.__main__")
PACKAGES = sorted(m.name for m in pkgutil.walk_packages(coder.__path__, "coder.") if m.ispkg)


def _exports(name: str) -> bool:
    try:
        return hasattr(importlib.import_module(name), "__all__")
    except Exception:  # a module that does not import fails its test below, not the collection of this file
        return True


EXPORTING = [p for p in PACKAGES if _exports(p)]

# Exported names of subpackages with no docstring yet (owned elsewhere); remove a name when it gets one.
UNDOCUMENTED = {"coder.panel.PriceTable"}


def _documented(obj: object) -> bool:
    doc = obj.__doc__
    if not doc or not doc.strip():
        return False
    # a dataclass without a docstring gets its signature, "Name(field: type, ...)", as __doc__
    return not (inspect.isclass(obj) and doc.startswith(f"{obj.__name__}("))


def _has_docstring_of_its_own(obj: object) -> bool:
    """Functions and classes carry a docstring; constants (floats, tuples) cannot, they are skipped."""
    return not (inspect.isroutine(obj) or inspect.isclass(obj)) or _documented(obj)


# --- exports -------------------------------------------------------------------------------------


def test_packages_are_found():
    assert {"coder.axis", "coder.cli", "coder.crosswalk", "coder.panel", "coder.raters", "coder.report"} <= set(
        PACKAGES
    )
    assert "coder.axis.stage" in MODULES and "coder.cli.options" in MODULES
    assert {"coder.axis", "coder.cli", "coder.panel", "coder.raters", "coder.report"} <= set(EXPORTING)


@pytest.mark.parametrize("name", coder.__all__)
def test_top_level_export_imports_and_is_documented(name):
    assert name in dir(coder)
    obj = getattr(coder, name)  # coder/__init__.py loads it on first use
    assert _has_docstring_of_its_own(obj), f"coder.{name} has no docstring"


def test_top_level_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="module 'coder' has no attribute 'no_such_name'"):
        coder.no_such_name  # noqa: B018


@pytest.mark.parametrize("package", EXPORTING)
def test_subpackage_exports_import_and_are_documented(package):
    module = importlib.import_module(package)
    names = module.__all__
    assert len(set(names)) == len(names), f"{package}.__all__ lists a name twice"
    for name in names:
        assert hasattr(module, name), f"{package}.__all__ lists {name!r}, which it does not define"
        obj = getattr(module, name)
        if f"{package}.{name}" not in UNDOCUMENTED:
            assert _has_docstring_of_its_own(obj), f"{package}.{name} has no docstring"


@pytest.mark.parametrize("name", MODULES)
def test_module_all_names_exist(name):
    module = importlib.import_module(name)  # also: importing any module needs no network or key
    assert module.__doc__ and module.__doc__.strip(), f"{name} has no module docstring"
    for attr in getattr(module, "__all__", ()):
        assert hasattr(module, attr), f"{name}.__all__ lists {attr!r}, which it does not define"


# --- the command line ----------------------------------------------------------------------------


def _walk(command: click.Command, path: tuple[str, ...] = ()):
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from _walk(sub, (*path, name))


COMMANDS = list(_walk(cli))
IDS = [" ".join(("coder", *path)) for path, _ in COMMANDS]


def test_every_stage_command_is_registered():
    names = {" ".join(path) for path, _ in COMMANDS}
    expected = {"code", "decide", "apply", "explain", "demo", "rules check", "axis", "model train", "model evaluate"}
    expected |= {"panel run", "panel evaluate", "cache stats", "check", "review export", "review import", "agree"}
    expected |= {"sensitivity", "report"}
    assert expected <= names


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_help_renders_with_one_sentence_first_line_and_an_example(path, command):
    # its own settings, not only the group's: a command invoked on its own once (tests do) caches
    # a help option without -h, and `coder <command> -h` then fails depending on test order
    assert command.context_settings.get("help_option_names") == ["-h", "--help"]
    for flag in ("--help", "-h"):
        result = CliRunner().invoke(cli, [*path, flag], prog_name="coder")
        assert result.exit_code == 0, result.output
        assert result.output.startswith(f"Usage: {' '.join(('coder', *path))} ")
    first = " ".join((command.help or "").split("\n\n")[0].split())
    assert first.endswith("."), f"first help line should be one sentence ending in '.': {first!r}"
    assert not re.search(r"[.?!:;]\s+[A-Z]", first), f"first help line should be one sentence: {first!r}"
    assert "Example:" in result.output
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            assert param.help, f"{' '.join(path)} {param.opts[0]} has no help"


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_output_and_quiet_mean_the_same_on_every_command(path, command):
    for param in command.params:
        if not isinstance(param, click.Option):
            continue
        names = set(param.opts) | set(param.secondary_opts)
        if names & {"-o", "--output"}:
            assert param.opts == ["-o", "--output"] and not param.is_flag and not param.multiple
        if names & {"-q", "--quiet"}:
            assert param.opts == ["-q", "--quiet"] and param.is_flag and param.name == "quiet"
            assert param.get_default(click.Context(command)) is False
        if not param.hidden:  # one name for outputs: no visible --out, --out-dir, --outdir, ...
            assert not [n for n in names if n.startswith("--out") and n != "--output"], param.opts


def test_old_out_spelling_is_hidden_and_still_works(tmp_path):
    result = CliRunner().invoke(cli, ["demo", "-h"])
    assert "-o, --output DIRECTORY" in result.output and "--out " not in result.output
    result = CliRunner().invoke(cli, ["demo", "--out", str(tmp_path / "a"), "-o", str(tmp_path / "b")])
    assert result.exit_code == 2
    assert "Error: give -o/--output once (--out is its old name)." in result.output
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


@pytest.mark.parametrize("flag", ["-q", "--quiet"])
def test_quiet_silences_stderr_not_the_output(tmp_path, flag):
    src = tmp_path / "people.csv"
    src.write_text("occupation\n한식 조리사\n", encoding="utf-8")
    args = ["code", str(src), "--text-col", "occupation", "-o", "-"]
    loud, quiet = CliRunner().invoke(cli, args), CliRunner().invoke(cli, [*args, flag])
    assert loud.exit_code == quiet.exit_code == 0
    assert loud.stderr.startswith("coded 1 rows") and quiet.stderr == ""
    assert quiet.stdout == loud.stdout and "한식 조리사,44110" in quiet.stdout


# --- doctests ------------------------------------------------------------------------------------

# Modules known to hold doctests; any module whose source has ">>>" must have its examples found too
# (a doctest that silently stops running is a lost test).
DOCTESTED = {
    "coder.axis.references",
    "coder.codes",
    "coder.panel.vendors.openai_compatible",
    "coder.raters.index",
    "coder.raters.model_fit",
}


def _run_doctests(module: types.ModuleType) -> doctest.TestResults:
    runner = doctest.DocTestRunner(verbose=False)
    out: list[str] = []
    for test in doctest.DocTestFinder().find(module):
        runner.run(test, out=out.append)
    assert runner.failures == 0, "".join(out)
    return doctest.TestResults(runner.failures, runner.tries)


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    module = importlib.import_module(name)
    results = _run_doctests(module)
    if name in DOCTESTED or ">>> " in inspect.getsource(module):
        assert results.attempted > 0, f"{name}: its doctests were not found"


def test_known_doctests_exist():
    assert DOCTESTED <= set(MODULES)


def test_doctest_harness_fails_on_a_wrong_example():
    module = types.ModuleType("wrong", ">>> 1 + 1\n3\n")
    with pytest.raises(AssertionError, match=r"Expected:\s+3\s+Got:\s+2"):
        _run_doctests(module)
    assert _run_doctests(types.ModuleType("right", ">>> 1 + 1\n2\n")) == (0, 1)
