"""``coder panel`` and ``coder cache`` end to end: code → panel (three vendors, fake server) → decide → apply."""

from __future__ import annotations

import gzip
import subprocess
import sys

import pytest
from click.testing import CliRunner
from fake_vendor import FAKE_KEY, FakeVendor, Fault, answer_json, set_keys, write_panel, write_prices

from coder.cli import cli
from coder.crosswalk.store import read_crosswalk
from coder.io import read_table

OCCUPATIONS = [
    "건물 청소원",
    "뭐든지 함",
    "건물 청소원",
    "뭐든지 함",
    "무직",
    "전직 뭐든지 함, 현재 구직중",
    "뭐든지 함",
]
ROWS = "occupation\n" + "".join(f'"{x}"\n' for x in OCCUPATIONS)


@pytest.fixture(scope="module")
def server():
    f = FakeVendor()
    yield f
    f.close()


@pytest.fixture
def fake(server):
    server.reset()
    return server


@pytest.fixture
def project(tmp_path, fake, monkeypatch):
    """Rows coded offline; a panel of three vendors on the fake server; prices; keys set."""
    set_keys(monkeypatch)
    rows = tmp_path / "rows.csv"
    rows.write_text(ROWS, encoding="utf-8")
    runner = CliRunner()
    res = runner.invoke(
        cli,
        [
            "code",
            str(rows),
            "--text-col",
            "occupation",
            "-o",
            str(tmp_path / "coded.csv"),
            "--crosswalk",
            str(tmp_path / "xw.csv"),
            "-q",
        ],
    )
    assert res.exit_code == 0, res.output
    panel = write_panel(tmp_path / "panel.toml", fake.url)
    prices = write_prices(tmp_path / "prices.toml")
    return {
        "dir": tmp_path,
        "rows": rows,
        "xw": tmp_path / "xw.csv",
        "panel": panel,
        "prices": prices,
        "runner": runner,
    }


def _panel(p, *args):
    return p["runner"].invoke(
        cli,
        [
            "panel",
            str(p["xw"]),
            "-o",
            str(p["dir"] / "xw_panel.csv"),
            "--panel",
            p["panel"],
            "--prices",
            p["prices"],
            *args,
        ],
    )


def test_end_to_end_code_panel_decide_apply(project, fake):
    p = project
    votes = {"fake-gpt": "9", "fake-claude": "91", "fake-gemini": "9"}
    fake.answer = lambda vendor, model, prompt: answer_json(votes[model], 0.7, "막연한 응답")
    stored = read_crosswalk(p["xw"]).frame.set_index("label_key")
    assert stored.loc["뭐든지함", "ksco_code"] == ""  # the offline raters left no code
    res = _panel(p, "-q")
    assert res.exit_code == 0, res.output
    assert sorted(r.vendor for r in fake.requests) == ["anthropic", "gemini", "openai"]
    out = read_crosswalk(p["dir"] / "xw_panel.csv").frame.set_index("label_key")
    row = out.loc["뭐든지함"]
    assert (row["panel_oa_code"], row["panel_an_code"], row["panel_ge_code"]) == ("9", "91", "9")
    assert row["panel_an_valid"] and row["panel_an_confidence"] == 0.7 and row["panel_an_reason"] == "막연한 응답"
    assert (row["ksco_code"], row["code_source"], row["panel_votes"]) == ("9", "panel", "an=91 ge=9 oa=9")
    seeker = out[out["label"] == "전직 뭐든지 함, 현재 구직중"].iloc[0]
    assert (seeker["ksco_code"], seeker["status"]) == ("9", "job_seeker")
    assert out.loc["건물청소원", "ksco_code"] == stored.loc["건물청소원", "ksco_code"]  # coded offline, not sent
    import json

    meta = json.loads((p["dir"] / "xw_panel.csv.meta.json").read_text(encoding="utf-8"))
    assert [m["id"] for m in meta["params"]["members"]] == ["oa", "an", "ge"]
    assert meta["params"]["prompt_template_sha256"] and meta["files_sha256"]["prices/prices.toml"]
    assert "rules/prompts/user.txt" in meta["files_sha256"]
    res = p["runner"].invoke(
        cli,
        [
            "apply",
            str(p["rows"]),
            "--crosswalk",
            str(p["dir"] / "xw_panel.csv"),
            "--text-col",
            "occupation",
            "-o",
            str(p["dir"] / "final.csv"),
            "-q",
        ],
    )
    assert res.exit_code == 0, res.output
    final = read_table(p["dir"] / "final.csv")
    assert final["occupation"].tolist() == OCCUPATIONS  # every row, in order
    assert final["ksco_code"].tolist() == ["94111", "9", "94111", "9", "", "9", "9"]
    assert final["code_source"].tolist()[1] == "panel"


def test_plan_sends_nothing_and_writes_nothing(project, fake):
    res = _panel(project, "--plan")
    assert res.exit_code == 0, res.output
    assert fake.requests == [] and not (project["dir"] / "xw_panel.csv").exists()
    assert "panel plan (--only review): 2 labels, 1 distinct texts to rate" in res.output
    assert "total: 3 calls" in res.output


def test_second_run_is_free_and_offline_replay_from_a_bundle(project, fake, tmp_path, monkeypatch):
    p = project
    assert _panel(p, "-q").exit_code == 0
    first = (p["dir"] / "xw_panel.csv").read_bytes()
    fake.requests.clear()
    assert _panel(p, "-q").exit_code == 0 and fake.requests == []
    bundle = tmp_path / "bundle.jsonl.gz"
    res = p["runner"].invoke(cli, ["cache", "export", str(bundle)])
    assert res.exit_code == 0 and "exported 3 answers to" in res.output
    monkeypatch.setenv("CODER_CACHE_DIR", str(tmp_path / "fresh-cache"))
    for env in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.delenv(env)
    res = _panel(p, "--offline", "-q")
    assert res.exit_code == 1
    assert "Error: panel --offline: 3 answer(s) for 1 label(s) are not in the cache: '뭐든지함' — import" in res.output
    res = p["runner"].invoke(cli, ["cache", "import", str(bundle)])
    assert res.exit_code == 0 and "imported 3 answers from" in res.output
    (p["dir"] / "xw_panel.csv").unlink()
    res = _panel(p, "--offline", "-q")
    assert res.exit_code == 0, res.output
    assert fake.requests == []
    assert (p["dir"] / "xw_panel.csv").read_bytes() == first
    res = p["runner"].invoke(cli, ["cache", "stats"])
    assert "entries: 3" in res.output and "openai/fake-gpt: 1" in res.output


def test_missing_key_and_budget_guards_leave_earlier_output_intact(project, fake, monkeypatch):
    p = project
    out = p["dir"] / "xw_panel.csv"
    out.write_text("earlier output", encoding="utf-8")
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    res = _panel(p)
    assert res.exit_code == 1
    assert res.output.strip().splitlines()[-1] == "Error: No key for an (anthropic/fake-claude) — set ANTHROPIC_API_KEY"
    res = _panel(p, "--members", "oa,ge", "--max-calls", "1")
    assert res.exit_code == 1
    assert "Error: panel: 2 calls to make, more than --max-calls 1 — nothing was sent." in res.output
    assert fake.requests == [] and out.read_text(encoding="utf-8") == "earlier output"
    res = _panel(p, "--members", "zz")
    assert res.exit_code == 1 and "Error: --members: no member zz in the panel — members are an, ge, oa." in res.output


def test_no_key_value_in_output_sidecar_cache_or_log(project, fake, tmp_path):
    p = project
    fake.script("fake-gemini", Fault(503, body=f"upstream saw {FAKE_KEY}".encode()))
    res = _panel(p)
    assert res.exit_code == 0, res.output
    assert FAKE_KEY not in res.output
    p["runner"].invoke(cli, ["cache", "export", str(tmp_path / "b.jsonl.gz")])
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            data = gzip.decompress(data) if path.suffix == ".gz" else data
            assert FAKE_KEY.encode() not in data, path


def test_cache_prune_needs_a_choice(project):
    r = project["runner"]
    res = r.invoke(cli, ["cache", "prune"])
    assert res.exit_code == 2 and "say what to delete: --older-than DAYS, --model MODEL or --all." in res.output
    res = r.invoke(cli, ["cache", "prune", "--all", "--model", "x"])
    assert res.exit_code == 2 and "--all cannot be combined with --older-than or --model." in res.output
    res = r.invoke(cli, ["cache", "prune", "--all"])
    assert res.exit_code == 1 and "no response cache here (no answers.db)" in res.output
    assert _panel(project, "-q").exit_code == 0
    res = r.invoke(cli, ["cache", "prune", "--all"])
    assert res.exit_code == 0 and "deleted 3 cached answers" in res.output


def test_panel_evaluate_cli(project, fake, monkeypatch):
    import coder.raters.model as model_mod

    monkeypatch.setattr(model_mod, "train_model", lambda **kw: model_mod.load_model())  # no minute of training here
    res = project["runner"].invoke(
        cli, ["panel", "evaluate", "--n", "12", "--panel", project["panel"], "--prices", project["prices"], "-q"]
    )
    assert res.exit_code == 0, res.output
    assert "panel on 12 held-out job names" in res.output and "majority" in res.output and "offline" in res.output
    assert len(fake.requests) == 36


def test_help_loads_no_vendor_sdk():
    code = (
        "import sys; from coder.cli import cli; cli(['panel', '--help'], standalone_mode=False); "
        "print([m for m in ('anthropic', 'openai', 'google.genai', 'pandas', 'diskcache') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


# ------------------------------------------------------------------ issue 21: credentials, dead endpoints, old caches


def test_base_url_credentials_are_not_in_the_sidecar_cache_bundle_or_output(project, fake, tmp_path):
    import json

    p = project
    scheme, rest = fake.url.split("://", 1)
    secret_url = f"{scheme}://panelUser:S3cretPassw0rd@{rest}"
    write_panel(p["dir"] / "panel.toml", secret_url)
    res = _panel(p)
    assert res.exit_code == 0, res.output
    meta = json.loads((p["dir"] / "xw_panel.csv.meta.json").read_text(encoding="utf-8"))
    assert {m["base_url"] for m in meta["params"]["members"]} == {fake.url + "/v1", fake.url}
    assert p["runner"].invoke(cli, ["cache", "export", str(tmp_path / "b.jsonl.gz")]).exit_code == 0
    for secret in ("panelUser", "S3cretPassw0rd"):
        assert secret not in res.output
        for path in tmp_path.rglob("*"):
            if path.is_file() and path.suffix != ".toml":
                data = path.read_bytes()
                data = gzip.decompress(data) if path.suffix == ".gz" else data
                assert secret.encode() not in data, (secret, path)


def test_a_dead_endpoint_is_reported_at_once_on_stderr(project, fake):
    from fake_vendor import dead_url

    p = project
    dead = dead_url()
    write_panel(p["dir"] / "panel.toml", dead, retries=4, backoff_s=0.05)
    res = _panel(p)
    assert res.exit_code == 1
    said = [ln for ln in res.stderr.splitlines() if ln.startswith("panel: ") and " stopped after 5 connection " in ln]
    assert len(said) == 3  # one line per member, as it stopped
    assert res.stderr.strip().splitlines()[-1].startswith("Error: panel: oa (openai/fake-gpt) stopped after 5 ")
    assert "No output written. No answer was received." in res.stderr


def _old_cache(folder, marker):
    """A diskcache folder as the old toolkit wrote it: one valid entry, and one pickle that would run a command."""
    import os

    import diskcache

    from coder.panel.cache import make_entry

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    good = make_entry({"vendor": "openai", "model": "m", "prompt": "x"}, "{}", {"input_tokens": 1}, "m")
    with diskcache.Cache(str(folder)) as old:
        old.set(good["key"], good)
        old.set("f" * 64, Payload())
    return good


def test_a_crafted_pickle_in_an_old_cache_never_runs(project, tmp_path, monkeypatch):
    folder, marker = tmp_path / "old-cache", tmp_path / "pwned"
    good = _old_cache(folder, marker)
    monkeypatch.setenv("CODER_CACHE_DIR", str(folder))
    r = project["runner"]
    res = r.invoke(cli, ["cache", "stats"])
    assert res.exit_code == 1 and not marker.exists()
    assert res.output.strip() == (
        f"Error: {folder}: holds a response cache in the old format (cache.db: diskcache with pickled values), which "
        "is not read, since loading a pickle can run code. Convert it with `coder cache migrate` (it reads plain data "
        "only), or move the folder aside and `coder cache import` a bundle."
    )
    assert _panel(project, "-q").exit_code == 1 and not marker.exists()
    res = r.invoke(cli, ["cache", "migrate"])
    assert res.exit_code == 0, res.output
    assert not marker.exists()
    assert "skipped row 2: not plain data (names posix.system) — skipped, not loaded" in res.stderr
    assert f"migrated 1 answers into {folder}; 1 skipped" in res.stderr
    res = r.invoke(cli, ["cache", "stats"])
    assert res.exit_code == 0 and "entries: 1" in res.output and "openai/m: 1" in res.output
    from coder.panel.cache import ResponseCache

    with ResponseCache(folder) as cache:
        assert cache.get(good["key"]) == good


@pytest.mark.parametrize("state", ["corrupt", "truncated", "missing", "a file"])
def test_a_broken_cache_gives_a_clear_error(project, tmp_path, monkeypatch, state):
    from coder.panel.cache import ResponseCache

    folder = tmp_path / "the-cache"
    monkeypatch.setenv("CODER_CACHE_DIR", str(folder))
    if state in ("corrupt", "truncated"):
        with ResponseCache(folder) as cache:
            for i in range(300):
                cache.put({"prompt": f"질문 {i}" * 50}, "{}", {}, "m")
        db = folder / "answers.db"
        data = db.read_bytes()
        db.write_bytes(b"\x00garbage" * 512 if state == "corrupt" else data[: len(data) // 3])
    elif state == "a file":
        folder.write_text("not a folder", encoding="utf-8")
    r = project["runner"]
    res = r.invoke(cli, ["cache", "stats"])
    assert res.exit_code == 1 and "Traceback" not in res.output, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    expected = {
        "corrupt": f"Error: {folder}/answers.db: the response cache is damaged (file is not a database) — move the folder "
        f"aside (`mv {folder} {folder}.broken`) and re-import your bundle into a new one (`coder cache import FILE`), "
        "or let `coder panel` ask the vendors again (at their price).",
        "truncated": f"Error: {folder}/answers.db: the response cache is damaged (database disk image is malformed) — "
        f"move the folder aside (`mv {folder} {folder}.broken`) and re-import your bundle into a new one "
        "(`coder cache import FILE`), or let `coder panel` ask the vendors again (at their price).",
        "missing": f"Error: {folder}: no response cache here (no answers.db) — run `coder panel` to fill one, `coder cache "
        "import FILE` to load a bundle, or point CODER_CACHE_DIR at the cache folder.",
        "a file": f"Error: {folder}: is a file, not a cache folder — point CODER_CACHE_DIR at a folder (or remove the file).",
    }[state]
    assert res.output.strip() == expected
    if state != "missing":  # a panel run says the same, not a traceback
        res = _panel(project, "-q")
        assert res.exit_code == 1 and res.output.strip().startswith(f"Error: {folder}"), res.output


@pytest.fixture
def read_only():
    """Make paths read-only for this process, even as root (chattr +i), and writable again afterwards."""
    import os
    import shutil

    done = []

    def make(*paths):
        for path in paths:
            if os.geteuid() == 0:
                if not shutil.which("chattr") or subprocess.run(["chattr", "+i", str(path)]).returncode:
                    pytest.skip("running as root without chattr +i: cannot make a folder read-only")
            else:
                path.chmod(0o555 if path.is_dir() else 0o444)
            done.append(path)

    yield make
    for path in reversed(done):
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(path)])
        else:
            path.chmod(0o755 if path.is_dir() else 0o644)


def test_a_read_only_cache_is_read_and_says_why_it_cannot_be_written(project, fake, tmp_path, monkeypatch, read_only):
    from coder.panel.cache import ResponseCache

    p = project
    assert _panel(p, "-q").exit_code == 0  # 3 answers cached
    bundle = tmp_path / "b.jsonl.gz"
    with ResponseCache(tmp_path / "other") as other:
        other.put({"prompt": "another answer"}, "{}", {}, "m")
        other.export(bundle)
    folder = tmp_path / "cache"
    read_only(*sorted(folder.iterdir()), folder)
    res = p["runner"].invoke(cli, ["cache", "stats"])
    assert res.exit_code == 0 and "entries: 3" in res.output, res.output
    fake.requests.clear()
    assert _panel(p, "-q").exit_code == 0 and fake.requests == []  # every answer cached: nothing to write
    res = p["runner"].invoke(cli, ["cache", "import", str(bundle)])
    assert res.exit_code == 1
    assert res.output.strip() == (
        f"Error: {folder}: the response cache cannot be written (attempt to write a readonly database) while "
        "importing a bundle — make the folder and answers.db writable, or point CODER_CACHE_DIR at a writable copy "
        "of the folder."
    )
    res = _panel(p, "-q", "--only", "all")  # new calls: the claim before the first one cannot be written
    assert res.exit_code == 1 and fake.requests == []
    assert res.output.strip().startswith(f"Error: {folder}: the response cache cannot be written (")
    assert "Traceback" not in res.output
