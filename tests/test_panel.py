"""The LLM panel through the real SDKs against the loopback fake vendor (no network, no key)."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from fake_vendor import FAKE_KEY, Answer, FakeVendor, Fault, answer_json, set_keys, write_panel, write_prices

from coder.codes import load_codes
from coder.errors import MissingKeyError, RuleError, VendorError
from coder.labels import tabulate_labels
from coder.panel import (
    BudgetError,
    load_panel,
    load_prices,
    load_prompts,
    panel_crosswalk,
    parse_answer,
    plan_panel,
    run_panel,
)
from coder.panel.cache import ResponseCache
from coder.panel.evaluate import stratified_sample
from coder.pipeline import code_labels

CODES = load_codes()
LABELS = ["컨텐츠 마케터", "전직 컨텐츠 마케터, 현재 구직중", "소년원 학교 교사", "건물 청소원", "무직"]


@pytest.fixture(scope="module")
def server():
    f = FakeVendor()
    yield f
    f.close()


@pytest.fixture
def fake(server):
    server.reset()
    return server


@pytest.fixture(scope="module")
def crosswalk():
    return code_labels(tabulate_labels(pd.Series(LABELS, dtype=object)))


@pytest.fixture
def setup(tmp_path, fake, monkeypatch):
    set_keys(monkeypatch)
    members, _ = load_panel(write_panel(tmp_path / "panel.toml", fake.url))
    prices = load_prices(write_prices(tmp_path / "prices.toml"))
    cache = ResponseCache(tmp_path / "cache")
    yield {"members": members, "prices": prices, "cache": cache, "prompts": load_prompts()}
    cache.close()


def _plan(xw, s, members=None, **kw):
    return plan_panel(
        xw, members or s["members"], codes=CODES, prompts=s["prompts"], cache=s["cache"], prices=s["prices"], **kw
    )


def _run(xw, s, members=None, plan_kw=None, **kw):
    plan = _plan(xw, s, members, **(plan_kw or {}))
    return run_panel(plan, codes=CODES, cache=s["cache"], prices=s["prices"], **kw)


# ------------------------------------------------------------------ parsing


@pytest.mark.parametrize(
    ("text", "code", "valid", "problem"),
    [
        ('{"code": "94111", "confidence": 0.8, "reason": "청소"}', "94111", True, ""),
        ('```json\n{"code": "941", "confidence": 0.5, "reason": "r"}\n```', "941", True, ""),
        ('```\n{"code": "0", "confidence": 1, "reason": "무직"}\n```', "0", True, ""),
        ('{"code": "A01", "confidence": 0.9, "reason": "장교"}', "A01", True, ""),
        ('{"code": "98765", "confidence": 0.9, "reason": "r"}', "98765", False, "code '98765' is not in ksco7"),
        ('{"code": "9411 ", "confidence": 0.9, "reason": "r"}', "9411 ", False, "code '9411 ' is not in ksco7"),
        ('{"code": 94111, "confidence": 0.9, "reason": "r"}', "94111", False, "code 94111 is not a string"),
        ("", "", False, "empty answer"),
        ("   ", "", False, "empty answer"),
        ('답: {"code": "94111"}', "", False, 'not a JSON object: \'답: {"code": "94111"}\''),
        ("[1, 2]", "", False, "not a JSON object: '[1, 2]'"),
        ('{"code": "", "confidence": 0.1, "reason": "모름"}', "", False, "empty code"),
        ('{"code": "941", "confidence": 1.5, "reason": "r"}', "941", True, "confidence 1.5 is not a number in [0, 1]"),
    ],
)
def test_parse_answer_is_strict(text, code, valid, problem):
    a = parse_answer(text, CODES)
    assert (a.code, a.valid, a.problem) == (code, valid, problem)


# ------------------------------------------------------------------ request shape


@pytest.mark.parametrize(
    ("mid", "path", "auth"),
    [
        ("oa", "/v1/chat/completions", ("authorization", f"Bearer {FAKE_KEY}")),
        ("an", "/v1/messages", ("x-api-key", FAKE_KEY)),
        ("ge", "/v1/models/fake-gemini:generateContent", ("x-goog-api-key", FAKE_KEY)),
        ("cx", "/v1/chat/completions", ("authorization", f"Bearer {FAKE_KEY}")),
    ],
)
def test_request_shape_per_vendor(tmp_path, fake, setup, crosswalk, mid, path, auth):
    members, _ = load_panel(write_panel(tmp_path / "p.toml", fake.url, ids=(mid,), temperature=0.3))
    run = _run(crosswalk, setup, members)
    assert run.stats[mid].calls == 2 and run.stats[mid].valid == 2
    req = fake.requests[0]
    assert req.path == path
    headers = {k.lower(): v for k, v in req.headers.items()}
    assert headers.get(auth[0]) == auth[1] or headers.get("authorization") == f"Bearer {FAKE_KEY}", headers.keys()
    body = req.body
    if mid == "ge":
        assert body["generationConfig"]["temperature"] == 0.3
        assert body["generationConfig"]["responseMimeType"] == "application/json"
        assert "KSCO-7" in body["systemInstruction"]["parts"][0]["text"]
    else:
        assert body["model"] == members[0].model and body["temperature"] == 0.3
        system = body["system"] if mid == "an" else body["messages"][0]["content"]
        assert "KSCO-7" in system
    if mid == "oa":
        assert body["response_format"]["type"] == "json_schema"
    if mid == "an":
        assert body["output_config"]["format"]["type"] == "json_schema"
    if mid == "cx":
        assert "response_format" not in body and body["max_tokens"] == 300
    prompts = sorted(r.prompt for r in fake.requests)
    concrete = next(p for p in prompts if "컨텐츠" in p)
    # the candidates of the stored crosswalk, each with its code and KSCO-7 title
    cands = [ln for ln in concrete.splitlines() if ln.startswith("- ")]
    assert cands and all(CODES.title(ln.split()[1]) in ln for ln in cands)
    assert "직업 응답: 컨텐츠 마케터" in concrete


# ------------------------------------------------------------------ faults, retries, timeouts, cache


def test_429_with_retry_after_is_honoured_then_cached(fake, setup, crosswalk):
    an = [m for m in setup["members"] if m.id == "an"]
    fake.script("fake-claude", Fault(429, {"Retry-After": "1"}))
    t0 = time.perf_counter()
    run = _run(crosswalk, setup, an)
    assert time.perf_counter() - t0 >= 1.0
    assert run.stats["an"].attempts == 3 and run.stats["an"].calls == 2 and run.stats["an"].errors == 0
    fake.requests.clear()
    again = _run(crosswalk, setup, an)
    assert fake.requests == [] and again.stats["an"].hits == 2 and again.stats["an"].calls == 0


@pytest.mark.parametrize(
    "fault",
    [Fault(500), Fault(503), Fault(200, body=b"{not json"), Fault(200, delay=1.5)],
    ids=["500", "503", "malformed-json", "slower-than-timeout"],
)
def test_transient_faults_are_retried(tmp_path, fake, setup, crosswalk, fault):
    members, _ = load_panel(write_panel(tmp_path / "p.toml", fake.url, ids=("oa",), timeout_s=0.5))
    fake.script("fake-gpt", fault)
    run = _run(crosswalk, setup, members)
    assert run.stats["oa"].attempts == 3 and run.stats["oa"].valid == 2


def test_errors_are_not_cached_and_the_run_says_so(tmp_path, fake, setup, crosswalk):
    members, _ = load_panel(write_panel(tmp_path / "p.toml", fake.url, ids=("ge",), timeout_s=0.5, retries=1))
    fake.script("fake-gemini", Fault(500), Fault(500), Fault(500), Fault(500))
    with pytest.raises(VendorError) as err:
        _run(crosswalk, setup, members)
    msg = str(err.value)
    assert msg.startswith("panel: 2 call(s) failed after their retries (ge 2); first: ge (gemini/fake-gemini) on ")
    assert msg.endswith(
        "after 2 attempt(s): HTTP 500: fake 500 — no output written. The 0 answers received are cached: "
        "run again to retry only the rest."
    )
    assert len(setup["cache"]) == 0
    fake.requests.clear()
    run = _run(crosswalk, setup, members)
    assert len(fake.requests) == 2 and run.stats["ge"].calls == 2


def test_a_permanent_error_is_not_retried(tmp_path, fake, setup, crosswalk):
    members, _ = load_panel(write_panel(tmp_path / "p.toml", fake.url, ids=("oa",), max_concurrency=1))
    fake.script("fake-gpt", Fault(400))
    with pytest.raises(VendorError, match=r"after 1 attempt\(s\): HTTP 400"):
        _run(crosswalk, setup, members)
    assert len(setup["cache"]) == 1  # the other label's answer was received and kept


def test_invalid_and_empty_answers_are_kept_and_counted(tmp_path, fake, setup, crosswalk):
    members, _ = load_panel(write_panel(tmp_path / "p.toml", fake.url, ids=("oa", "an", "ge")))
    fake.codes = {"컨텐츠 마케터": "77777", "소년원 학교 교사": "25"}
    fake.script("fake-claude", Answer(""), Answer(""))
    run = _run(crosswalk, setup, members)
    assert (run.stats["oa"].valid, run.stats["oa"].invalid) == (1, 1)
    assert run.stats["an"].validity == 0.0
    xw = panel_crosswalk(crosswalk, run, codes=CODES).frame.set_index("label_key")
    row = xw.loc["컨텐츠마케터"]
    assert row["panel_oa_code"] == "77777" and not row["panel_oa_valid"]  # kept verbatim, never coerced
    assert row["panel_an_code"] == "" and row["panel_an_reason"] == "empty answer"
    assert "invalid panel vote(s) from ge, oa" in row["code_note"]
    teacher = xw.loc["소년원학교교사"]
    assert teacher["panel_oa_code"] == "25" and teacher["panel_oa_valid"] and teacher["panel_valid"] == 2


def test_votes_map_back_to_every_label_with_the_core_key(fake, setup, crosswalk):
    fake.codes = {"컨텐츠 마케터": "7", "소년원 학교 교사": "2"}
    run = _run(crosswalk, setup)
    xw = panel_crosswalk(crosswalk, run, codes=CODES).frame.set_index("label_key")
    seeker = xw.loc[crosswalk.loc[crosswalk["label"] == LABELS[1], "label_key"].iloc[0]]
    assert seeker["panel_ge_code"] == "7" and seeker["panel_votes"] == "an=7 ge=7 oa=7"
    assert seeker["panel_ge_confidence"] == 0.9 and seeker["status"] == "job_seeker"
    assert xw.loc["무직", "panel_oa_code"] == ""  # not sent: nothing to rate


def test_second_run_makes_zero_requests(fake, setup, crosswalk):
    first = _run(crosswalk, setup)
    assert sum(s.calls for s in first.stats.values()) == 6
    fake.requests.clear()
    second = _run(crosswalk, setup)
    assert fake.requests == [] and sum(s.hits for s in second.stats.values()) == 6


def test_each_key_field_changes_the_key(tmp_path, fake, setup, crosswalk):
    oa = next(m for m in setup["members"] if m.id == "oa")
    keys = lambda m, **kw: {t.key for t in _plan(crosswalk, setup, [m], **kw).members[0].tasks}  # noqa: E731
    base = keys(oa)
    variants = [
        replace(oa, temperature=0.5),
        replace(oa, model="fake-gpt-2"),
        replace(oa, base_url=oa.base_url + "/"),
        replace(oa, seed=1),
        replace(oa, max_tokens=301),
        replace(oa, response_format="json_object"),
        replace(oa, params={"reasoning_effort": "low"}),
    ]
    for v in variants:
        assert keys(v).isdisjoint(base), v
    assert replace(oa, id="other", max_concurrency=1, timeout_s=9.0).sampling() == oa.sampling()  # not answer-changing
    two = keys(oa, samples=2)
    assert len(two) == 4 and base < two  # sample 0 keeps its key, sample 1 adds new ones
    (tmp_path / "prompts").mkdir()
    for name in ("system.txt", "user.txt"):
        text = (Path(load_prompts().files and __file__).parent.parent / "rules" / "prompts" / name).read_text("utf-8")
        (tmp_path / "prompts" / name).write_text(text + ("\n추가 규칙." if name == "system.txt" else ""), "utf-8")
    other = plan_panel(
        crosswalk,
        [oa],
        codes=CODES,
        prompts=load_prompts(tmp_path / "prompts"),
        cache=setup["cache"],
        prices=setup["prices"],
    )
    assert {t.key for t in other.members[0].tasks}.isdisjoint(base)


def test_samples_each_call_and_combine_by_majority(tmp_path, fake, setup, crosswalk):
    members, _ = load_panel(
        write_panel(tmp_path / "p.toml", fake.url, ids=("oa",), samples=3, temperature=0.7, max_concurrency=1)
    )
    fake.script("fake-gpt", *(Answer(answer_json(c, 0.6)) for c in ("94111", "94112", "94111", "941", "941", "941")))
    run = _run(crosswalk, setup, members, max_calls=6)
    assert run.stats["oa"].calls == 6
    xw = panel_crosswalk(crosswalk, run, codes=CODES).frame
    votes = set(xw["panel_oa_code"]) - {""}
    assert votes == {"94111", "941"}  # the deepest code more than half the samples share
    row = xw[xw["panel_oa_code"] == "94111"].iloc[0]
    assert row["panel_oa_confidence"] == pytest.approx(2 / 3 * 0.6)
    assert row["panel_oa_reason"] == "가짜 응답 (samples: 94111 94112 94111)"


def test_concurrency_is_bounded_per_member(tmp_path, fake, setup):
    labels = [f"가짜 직업 {i}" for i in range(12)]
    xw = code_labels(tabulate_labels(pd.Series(labels, dtype=object)))
    members, _ = load_panel(write_panel(tmp_path / "p.toml", fake.url, ids=("oa",), max_concurrency=3))
    fake.latency = 0.15
    run = _run(xw, setup, members, plan_kw={"only": "all"})
    assert run.stats["oa"].calls == 12 and fake.max_inflight == 3


# ------------------------------------------------------------------ guards and keys


def test_plan_makes_no_request(fake, setup, crosswalk):
    plan = _plan(crosswalk, setup)
    assert fake.requests == []
    assert (plan.labels, len(plan.cores), plan.calls) == (3, 2, 6)
    assert "total: 6 calls" in plan.to_text()


def test_missing_key_names_member_and_variable(fake, setup, crosswalk, monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY")
    with pytest.raises(MissingKeyError) as err:
        _run(crosswalk, setup)
    assert str(err.value) == "No key for ge (gemini/fake-gemini) — set GEMINI_API_KEY"
    assert fake.requests == []


def test_max_calls_refuses_before_sending(fake, setup, crosswalk):
    with pytest.raises(BudgetError) as err:
        _run(crosswalk, setup, max_calls=5)
    assert str(err.value) == (
        "panel: 6 calls to make, more than --max-calls 5 — nothing was sent. "
        "Raise --max-calls, narrow --only or --members, or see --plan."
    )
    assert fake.requests == []


def test_max_cost_refuses_a_run_that_may_cost_more(fake, setup, crosswalk):
    with pytest.raises(BudgetError) as err:
        _run(crosswalk, setup, max_cost=0.001)
    assert str(err.value) == (
        "panel: the calls to make may cost up to $0.0062, more than --max-cost 0.001 — nothing was sent. "
        "Raise --max-cost, narrow --only or --members, or see --plan."
    )
    assert fake.requests == []


def test_max_cost_stops_a_run_that_spends_more(tmp_path, fake, setup, crosswalk):
    members, _ = load_panel(write_panel(tmp_path / "p.toml", fake.url, ids=("oa",), max_concurrency=1))
    fake.usage = (1000, 400_000)  # the vendor reports far more than max_tokens: $0.801 a call
    with pytest.raises(BudgetError) as err:
        _run(crosswalk, setup, members, max_cost=0.5)
    sent = len(fake.requests)
    assert sent == 1  # the first call showed what a call costs: the second would pass the budget
    assert str(err.value) == (
        "panel: stopped at --max-cost 0.5 — spent $0.8010 on 1 of 2 calls, and the rest would pass the budget "
        "(at the cost per call the vendors reported). No output written. The answers received are cached: "
        "raise --max-cost and run again to pay only for the rest."
    )
    assert len(setup["cache"]) == sent
    fake.requests.clear()
    run = _run(crosswalk, setup, members)
    assert len(fake.requests) == 2 - sent and run.stats["oa"].hits == sent  # pays only for the rest


def test_unknown_price_is_refused_unless_allowed(tmp_path, fake, setup, crosswalk):
    prices = load_prices(write_prices(tmp_path / "few.toml", models=("fake-gpt",)))
    s2 = {**setup, "prices": prices}
    with pytest.raises(BudgetError) as err:
        _run(crosswalk, s2)
    assert str(err.value) == (
        f"panel: no price for an (fake-claude), ge (fake-gemini) in {prices.path} — add the model's price there "
        "(or pass --prices FILE), or pass --allow-unknown-price to run without one."
    )
    with pytest.raises(BudgetError, match=r"--max-cost cannot bound an, ge \(no price\)"):
        _run(crosswalk, s2, allow_unknown_price=True, max_cost=10)
    run = _run(crosswalk, s2, allow_unknown_price=True)
    assert not run.stats["an"].cost_known and run.stats["an"].as_dict()["cost"] is None
    assert run.stats["oa"].cost == pytest.approx(2 * (100 * 1 + 20 * 2) / 1e6)


def test_a_run_stopped_half_way_pays_only_for_the_rest(tmp_path, fake, setup, crosswalk):
    labels = [f"가짜 직업 {i}" for i in range(10)]
    xw = code_labels(tabulate_labels(pd.Series(labels, dtype=object)))
    members, _ = load_panel(write_panel(tmp_path / "p.toml", fake.url, ids=("an",), max_concurrency=1))
    fake.script("fake-claude", *([Answer(answer_json("9"))] * 4), *([Fault(401)] * 6))
    with pytest.raises(VendorError, match=r"HTTP 401 \(check the key\)"):
        _run(xw, setup, members, plan_kw={"only": "all"})
    assert len(setup["cache"]) == 4
    fake.requests.clear()
    run = _run(xw, setup, members, plan_kw={"only": "all"})
    assert len(fake.requests) == 6 and run.stats["an"].hits == 4


def test_no_key_value_in_messages_cache_or_bundle(tmp_path, fake, setup, crosswalk):
    members, _ = load_panel(write_panel(tmp_path / "p.toml", fake.url, ids=("oa",), retries=0))
    fake.script("fake-gpt", Fault(403, body=f'{{"error": "bad key {FAKE_KEY}"}}'.encode()))
    with pytest.raises(VendorError) as err:
        _run(crosswalk, setup, members)
    assert FAKE_KEY not in str(err.value) and "bad key ***" in str(err.value)
    _run(crosswalk, setup, members)
    setup["cache"].export(tmp_path / "bundle.jsonl.gz")
    setup["cache"].close()
    import gzip

    for path in tmp_path.rglob("*"):
        if path.is_file() and path.name not in ("p.toml", "panel.toml"):
            data = path.read_bytes()
            if path.suffix == ".gz":
                data = gzip.decompress(data)
            assert FAKE_KEY.encode() not in data, path


def test_offline_needs_every_answer_in_the_cache(fake, setup, crosswalk):
    with pytest.raises(VendorError) as err:
        _run(crosswalk, setup, offline=True)
    assert str(err.value) == (
        "panel --offline: 6 answer(s) for 2 label(s) are not in the cache: '소년원학교교사', '컨텐츠마케터' — "
        "import the bundle they are in (`coder cache import FILE`) or run without --offline."
    )
    assert fake.requests == []


# ------------------------------------------------------------------ data files and evaluation


def test_default_panel_and_prices():
    members, sha = load_panel()
    assert [(m.id, m.vendor, m.model, m.temperature) for m in members] == [
        ("claude", "anthropic", "claude-opus-4-5", 0.0),
        ("gemini", "gemini", "gemini-2.5-flash", 0.0),
        ("hcx", "openai-compatible", "HCX-005", 0.0),
    ]
    assert members[2].base_url == "https://clovastudio.stream.ntruss.com/v1/openai/"
    assert members[2].api_key_env == "CLOVASTUDIO_API_KEY" and len(sha) == 64
    prices = load_prices()
    assert prices.get("claude-opus-4-5").input == 5.0 and prices.get("gemini-2.5-flash").output == 2.5
    assert prices.get("HCX-005") is None and prices.get("claude-opus-4-5").seen == "2026-03-21"


def test_a_bad_panel_file_lists_every_problem(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(
        '[[member]]\nid = "a"\nvendor = "nope"\nmodel = "m"\n\n[[member]]\nid = "a"\nvendor = "openai"\nmodel = "m"\n'
        'temperature = 3.0\ncolour = "x"\n\n[[member]]\nid = "c"\nvendor = "openai-compatible"\nmodel = "m"\n',
        encoding="utf-8",
    )
    with pytest.raises(RuleError) as err:
        load_panel(path)
    assert err.value.problems == [
        f"{path} member 1: vendor 'nope' has no adapter (vendors: anthropic, gemini, openai, openai-compatible)",
        f"{path} member 2: unknown field(s) colour (fields: id, vendor, model, base_url, api_key_env, temperature, "
        "samples, max_concurrency, timeout_s, max_tokens, retries, seed, top_p, response_format, thinking_budget, "
        "params, backoff_s)",
        f"{path} member 3: vendor openai-compatible needs a base_url (e.g. http://localhost:8000/v1)",
    ]


@pytest.mark.parametrize("name", ["anthropic", "gemini", "openai", "openai_compatible"])
def test_one_adapter_per_vendor_file(name):
    import importlib

    mod = importlib.import_module(f"coder.panel.vendors.{name}")
    lines = len(Path(mod.__file__).read_text(encoding="utf-8").splitlines())
    assert 50 <= lines <= 150
    assert mod.Adapter.vendor == name.replace("_", "-")


def test_stratified_sample_is_proportional_and_seeded():
    truth = ["1"] * 50 + ["2"] * 30 + ["9"] * 20
    pick = stratified_sample(truth, 10, seed=3)
    assert [truth[i] for i in pick].count("1") == 5 and [truth[i] for i in pick].count("9") == 2
    assert pick == stratified_sample(truth, 10, seed=3) and pick != stratified_sample(truth, 10, seed=4)


def test_evaluate_scores_members_majority_and_offline(fake, setup):
    from coder.panel import evaluate_panel
    from coder.panel.evaluate import heldout_names
    from coder.raters.index import load_index
    from coder.raters.model import load_model

    names, truth, _, _ = heldout_names()
    right = dict(zip(names, truth, strict=True))
    from coder.normalize import label_key

    fake.answer = lambda vendor, model, prompt: answer_json(
        right.get(label_key(prompt.split("직업 응답: ")[1].splitlines()[0]), "9")[: 4 if vendor != "gemini" else 1]
    )
    result = evaluate_panel(
        setup["members"],
        n=20,
        seed=0,
        prompts=setup["prompts"],
        cache=setup["cache"],
        prices=setup["prices"],
        model=load_model(),
        index=load_index(),
    )
    rows = result.rows
    assert set(rows) == {"oa", "an", "ge", "majority", "offline", "model"}
    assert rows["oa"]["accuracy"][4] == 1.0 and rows["ge"]["accuracy"][1] == 1.0 and rows["ge"]["accuracy"][2] == 0.0
    assert rows["majority"]["accuracy"][4] == 1.0 and rows["oa"]["calls"] == 20 and rows["oa"]["validity"] == 1.0
    assert "majority" in result.to_text()


def test_fake_vendor_adds_no_nagle_delay(fake, setup):
    """Headers and body leave the fake server in two writes; with Nagle on, each reply waited ~40 ms for the
    client's delayed ACK (the benchmark measured that, not the client). 20 calls must take far less than 20 × 40 ms."""
    from coder.panel.vendor import adapter_class

    for m in setup["members"]:
        adapter = adapter_class(m.vendor)(m, FAKE_KEY)
        try:
            adapter.call("s", "직업 응답: 요리사")
            t0 = time.perf_counter()
            for _ in range(20):
                adapter.call("s", "직업 응답: 요리사")
            assert time.perf_counter() - t0 < 0.4, m.vendor
        finally:
            adapter.close()


def test_many_tasks_complete_without_quadratic_waiting(tmp_path, fake, setup):
    """600 calls (200 labels × 3 members): every answer arrives once, in the crosswalk order of cores."""
    xw = code_labels(tabulate_labels(pd.Series([f"가상 직업 {i}" for i in range(200)], dtype=object)))
    run = _run(xw, setup, plan_kw={"only": "all"})
    assert len(setup["cache"]) == 600 and len(fake.requests) == 600
    assert sum(s.calls for s in run.stats.values()) == 600
    assert all(s.errors == 0 for s in run.stats.values())
    for mid in run.answers:
        assert list(run.answers[mid]) == list(run.plan.cores)


# ------------------------------------------------------------------ runs that stop half way


def test_a_budget_stop_keeps_the_answers_in_flight(tmp_path, fake, setup):
    """Two members, two calls in flight each: the calls in flight when --max-cost stops the run finish and are cached."""
    labels = [f"가짜 직업 {i}" for i in range(20)]
    xw = code_labels(tabulate_labels(pd.Series(labels, dtype=object)))
    members, _ = load_panel(write_panel(tmp_path / "p.toml", fake.url, ids=("oa", "an"), max_concurrency=2))
    fake.usage = (1000, 400_000)  # $0.801 a call for fake-gpt
    fake.latency = 0.05
    with pytest.raises(BudgetError, match=r"stopped at --max-cost 1 — spent \$[\d.]+ on \d+ of 40 calls"):
        _run(xw, setup, members, plan_kw={"only": "all"}, max_cost=1.0)
    sent = len(fake.requests)
    assert sent < 40 and len(setup["cache"]) == sent  # every call that was answered is cached
    fake.requests.clear()
    run = _run(xw, setup, members, plan_kw={"only": "all"})
    assert len(fake.requests) == 40 - sent and sum(s.hits for s in run.stats.values()) == sent


def test_a_bug_in_an_adapter_stops_the_run_and_keeps_what_arrived(fake, setup, crosswalk, monkeypatch):
    from coder.panel.vendors import gemini

    def broken(self, system, user):
        raise RuntimeError("adapter bug")

    monkeypatch.setattr(gemini.Adapter, "call", broken)
    with pytest.raises(RuntimeError, match="adapter bug"):  # the exception itself
        _run(crosswalk, setup)
    sent = len(fake.requests)
    assert sent and len(setup["cache"]) == sent  # the calls in flight when it stopped finished, and are kept


_STOPPED_RUN = """
import sys
import pandas as pd
from coder.panel.cache import ResponseCache
from coder.codes import load_codes
from coder.labels import tabulate_labels
from coder.pipeline import code_labels
from coder.panel import load_panel, load_prices, load_prompts, plan_panel, run_panel

panel, prices, cache_dir = sys.argv[1:4]
xw = code_labels(tabulate_labels(pd.Series([f"가짜 직업 {i}" for i in range(60)], dtype=object)))
members, _ = load_panel(panel)
with ResponseCache(cache_dir) as cache:
    plan = plan_panel(xw, members, codes=load_codes(), prompts=load_prompts(), cache=cache,
                      prices=load_prices(prices), only="all")
    run_panel(plan, codes=load_codes(), cache=cache, prices=load_prices(prices))
"""


@pytest.mark.parametrize("sig", ["SIGINT", "SIGKILL"])
def test_a_run_stopped_by_a_signal_pays_only_for_the_rest(tmp_path, fake, setup, sig):
    """Ctrl-C (SIGINT) or SIGKILL the process running the panel half way: the restart pays only for the rest.

    On Ctrl-C the calls in flight finish and are cached: every request the vendor saw is paid for once."""
    import signal
    import subprocess
    import sys

    panel = write_panel(tmp_path / "p.toml", fake.url, ids=("oa", "an"), max_concurrency=2)
    fake.latency = 0.1
    proc = subprocess.Popen(
        [sys.executable, "-c", _STOPPED_RUN, panel, setup["prices"].path, str(tmp_path / "cache")],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while len(fake.requests) < 20 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before it could be stopped"
    proc.send_signal(getattr(signal, sig))
    _, err = proc.communicate(timeout=10)
    assert proc.returncode != 0
    if sig == "SIGINT":
        assert b"KeyboardInterrupt" in err
    time.sleep(0.3)  # a request already on the wire reaches the server: no new calls after that
    at_stop = len(fake.requests)
    assert at_stop < 120
    setup["cache"].close()
    cache = ResponseCache(tmp_path / "cache")
    kept = len(cache)
    assert 0 < kept <= at_stop
    if sig == "SIGINT":
        assert kept == at_stop  # the calls in flight finished and their answers were cached
    fake.requests.clear()
    fake.latency = 0.0
    members, _ = load_panel(panel)
    xw = code_labels(tabulate_labels(pd.Series([f"가짜 직업 {i}" for i in range(60)], dtype=object)))
    run = _run(xw, {**setup, "cache": cache}, members, plan_kw={"only": "all"})
    cache.close()
    assert len(fake.requests) == 120 - kept and sum(s.hits for s in run.stats.values()) == kept


# ------------------------------------------------------------------ issue 21: deadlines, dead endpoints, budget, leases


@pytest.mark.parametrize("mid", ["oa", "an", "ge"])
def test_timeout_is_a_deadline_for_the_whole_call(tmp_path, fake, setup, crosswalk, mid):
    """A server trickling its reply a byte every 50 ms (each read quick, the reply ~15 s): timeout_s = 1 ends the call at 1 s."""
    members, _ = load_panel(write_panel(tmp_path / "p.toml", fake.url, ids=(mid,), timeout_s=1.0, retries=0))
    fake.script(
        members[0].model, Answer(answer_json("94111"), trickle=0.05), Answer(answer_json("94111"), trickle=0.05)
    )
    import importlib

    importlib.import_module({"oa": "openai", "an": "anthropic", "ge": "google.genai"}[mid])  # not the SDK's import time
    t0 = time.perf_counter()
    with pytest.raises(VendorError) as err:
        _run(crosswalk, setup, members)
    assert time.perf_counter() - t0 < 2.0
    assert "after 1 attempt(s): timed out (no complete reply within timeout_s = 1 s)" in str(err.value)
    assert len(setup["cache"]) == 0


def _mixed_panel(tmp_path, fake, dead: str, **fields) -> str:
    """A panel file: oa on the fake vendor, an at ``dead`` (nothing listening)."""
    a = Path(write_panel(tmp_path / "a.toml", fake.url, ids=("oa",), **fields)).read_text("utf-8")
    b = Path(write_panel(tmp_path / "b.toml", dead, ids=("an",), **fields)).read_text("utf-8")
    (tmp_path / "mixed.toml").write_text(a + "\n" + b, encoding="utf-8")
    return str(tmp_path / "mixed.toml")


def test_a_dead_endpoint_stops_its_member_at_once_and_keeps_the_rest(tmp_path, fake, setup):
    """Connection refused on every call: after 5 in a row the member stops (said at once), the others' answers are kept."""
    from fake_vendor import dead_url

    labels = [f"가짜 직업 {i}" for i in range(40)]
    xw = code_labels(tabulate_labels(pd.Series(labels, dtype=object)))
    dead = dead_url()
    members, _ = load_panel(_mixed_panel(tmp_path, fake, dead, retries=4, backoff_s=0.2, max_concurrency=4))
    fake.latency = 0.1  # oa's 40 calls take 1 s or more
    said: list[tuple[float, str]] = []
    t0 = time.perf_counter()
    with pytest.raises(VendorError) as err:
        _run(xw, setup, members, plan_kw={"only": "all"}, notify=lambda m: said.append((time.perf_counter(), m)))
    t1 = time.perf_counter()
    assert t1 - t0 < 6.0  # not 40 labels × 4 retries with backoff
    assert len(said) == 1 and said[0][0] < t1 - 0.5, (said, t0, t1)  # said at once, while oa was still answering
    assert said[0][1].startswith(
        "panel: an (anthropic/fake-claude) stopped after 5 connection failures in a row (connection failed (ConnectError"
    )
    assert said[0][1].endswith(
        f"— is the server at {dead} running? Its remaining calls are not sent; the other members go on."
    )
    msg = str(err.value)
    assert msg.startswith("panel: an (anthropic/fake-claude) stopped after 5 connection failures in a row (")
    assert f") at {dead}; " in msg and "of its 40 calls not sent — check that the server is running and base_url" in msg
    assert msg.endswith("No output written. The 40 answers received are cached: run again to pay only for the rest.")
    assert len(setup["cache"]) == 40 and len(fake.requests) == 40  # every answer of oa kept


def test_max_cost_counts_the_usage_vendors_report(tmp_path, fake, setup):
    """The vendor reports 10× the estimated usage: the run stops sending before the spend passes the budget."""
    from coder.panel.run import estimate_tokens

    labels = [f"가짜 직업 {i}" for i in range(30)]
    xw = code_labels(tabulate_labels(pd.Series(labels, dtype=object)))
    members, _ = load_panel(write_panel(tmp_path / "p.toml", fake.url, ids=("oa",), max_concurrency=4))
    plan = _plan(xw, setup, members, only="all")
    tasks = plan.members[0].tasks
    est_in = max(estimate_tokens(t.system) + estimate_tokens(t.user) for t in tasks)
    fake.usage = (10 * est_in, 10 * 300)  # ten times the estimate (input and max_tokens of output)
    per_call = (10 * est_in * 1.0 + 3000 * 2.0) / 1e6  # prices: 1 and 2 USD per million
    budget = 5.5 * per_call
    assert plan.cost < budget  # the plan (from the estimate) looks affordable
    with pytest.raises(BudgetError, match=r"^panel: stopped at --max-cost [\d.]+ — spent \$[\d.]+ on 5 of 30 calls"):
        _run(xw, setup, members, plan_kw={"only": "all"}, max_cost=budget)
    spent = len(fake.requests) * per_call
    assert spent <= budget  # not one call in flight more than the budget pays for
    assert len(setup["cache"]) == len(fake.requests) == 5


def test_two_runs_on_one_cache_pay_once(tmp_path, fake, setup):
    """Two runs at once, each with its own ResponseCache on one folder: every key is called once, and both runs
    get every answer (the second waits for the first's lease, then reads its answer)."""
    import threading

    labels = [f"가짜 직업 {i}" for i in range(20)]
    xw = code_labels(tabulate_labels(pd.Series(labels, dtype=object)))
    members, _ = load_panel(write_panel(tmp_path / "p.toml", fake.url, ids=("oa", "an"), max_concurrency=4))
    fake.latency = 0.2
    runs, errors = [], []

    def one_run():
        try:
            with ResponseCache(tmp_path / "shared") as cache:
                runs.append(_run(xw, {**setup, "cache": cache}, members, plan_kw={"only": "all"}))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=one_run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and len(runs) == 2
    keys = {r.body["messages"][-1]["content"] + r.model for r in fake.requests}
    assert len(fake.requests) == len(keys) == 40  # 20 labels × 2 members, each paid once
    assert sum(s.calls for r in runs for s in r.stats.values()) == 40
    assert sum(s.hits for r in runs for s in r.stats.values()) == 40  # what one run called, the other read
    assert runs[0].answers == runs[1].answers


_CONCURRENT_RUN = """
import sys
import pandas as pd
from coder.panel.cache import ResponseCache
from coder.codes import load_codes
from coder.labels import tabulate_labels
from coder.pipeline import code_labels
from coder.panel import load_panel, load_prices, load_prompts, plan_panel, run_panel

panel, prices, cache_dir = sys.argv[1:4]
xw = code_labels(tabulate_labels(pd.Series([f"가짜 직업 {i}" for i in range(15)], dtype=object)))
members, _ = load_panel(panel)
with ResponseCache(cache_dir) as cache:
    plan = plan_panel(xw, members, codes=load_codes(), prompts=load_prompts(), cache=cache,
                      prices=load_prices(prices), only="all")
    run = run_panel(plan, codes=load_codes(), cache=cache, prices=load_prices(prices))
    print(sum(s.calls for s in run.stats.values()), sum(s.hits for s in run.stats.values()))
"""


def test_two_processes_on_one_cache_pay_once(tmp_path, fake, setup):
    """The reported case: two `coder panel` processes on one cache. Total calls to the vendor == distinct keys."""
    import subprocess
    import sys

    panel = write_panel(tmp_path / "p.toml", fake.url, ids=("oa", "an"), max_concurrency=2)
    fake.latency = 0.3
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    args = [sys.executable, "-c", _CONCURRENT_RUN, panel, setup["prices"].path, str(tmp_path / "shared")]
    procs = [subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1].decode()[-2000:] for o in outs]
    counts = [tuple(int(x) for x in o[0].split()) for o in outs]
    assert len(fake.requests) == 30  # 15 labels × 2 members, each called once between the two processes
    assert sum(c for c, _ in counts) == 30 and sum(h for _, h in counts) == 30


def test_a_lease_is_waited_for_taken_over_when_dead_or_expired(tmp_path):
    import subprocess
    import sys

    key = "a" * 64
    with ResponseCache(tmp_path / "c") as one, ResponseCache(tmp_path / "c") as two:
        assert one.claim(key, seconds=60) == "mine"
        assert one.claim(key, seconds=60) == "mine"  # its own lease, renewed
        assert two.claim(key, seconds=60) == "busy"  # a live owner: wait
        one.release(key)
        assert two.claim(key, seconds=60) == "mine"
        entry = one.put({"prompt": "x"}, "{}", {}, "m")
        assert one.claim(entry["key"], seconds=60) == two.claim(entry["key"], seconds=60) == "answered"
        # a lease whose owner process is gone is taken over at once, even before it expires
        gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
        with one._sql("test") as con:
            con.execute(
                "INSERT OR REPLACE INTO leases VALUES (?, 'other', ?, ?, ?)",
                ("b" * 64, one._host, int(gone.stdout), time.time() + 3600),
            )
            con.execute(
                "INSERT OR REPLACE INTO leases VALUES (?, 'other', 'elsewhere', 1, ?)", ("c" * 64, time.time() - 1)
            )
            con.execute(
                "INSERT OR REPLACE INTO leases VALUES (?, 'other', 'elsewhere', 1, ?)", ("d" * 64, time.time() + 60)
            )
        assert two.claim("b" * 64, seconds=60) == "mine"  # dead owner
        assert two.claim("c" * 64, seconds=60) == "mine"  # expired
        assert two.claim("d" * 64, seconds=60) == "busy"  # another host, not expired: wait


SECRET_URL_PARTS = ("pan3lUser", "s3cret-Pa55word", "QUERYk3y0123456789")


def _secret_url(url: str) -> str:
    """``url`` with credentials in it: user:password@ and a key-like query parameter."""
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{SECRET_URL_PARTS[0]}:{SECRET_URL_PARTS[1]}@{rest}?api_key={SECRET_URL_PARTS[2]}&region=kr"


def test_base_url_credentials_never_reach_cache_key_messages_or_logs(tmp_path, fake, setup, crosswalk, caplog):
    import gzip
    import logging

    oa = next(m for m in setup["members"] if m.id == "oa")
    secret = replace(oa, base_url=_secret_url(oa.base_url))
    # the cache key holds the URL without credentials: host and path still change it, a credential alone does not
    assert secret.sampling()["base_url"] == f"{oa.base_url}?api_key=***&region=kr"
    rotated = replace(secret, base_url=secret.base_url.replace(SECRET_URL_PARTS[1], "other-password"))
    assert rotated.sampling() == secret.sampling()
    assert replace(secret, base_url=secret.base_url.replace("/v1", "/v2")).sampling() != secret.sampling()
    caplog.set_level(logging.DEBUG)
    messages = []
    # the openai SDK puts the path after a base URL's query, so this member's calls fail (404): the message is clean
    with pytest.raises(VendorError) as err:
        _run(crosswalk, setup, [replace(secret, retries=0)])
    messages.append(str(err.value))
    # user:password@ only: calls succeed; an error body echoing the URL shows *** for the credentials
    userinfo = replace(oa, base_url=secret.base_url.split("?")[0])
    fake.script("fake-gpt", Fault(400, body=f'{{"error": "bad request to {userinfo.base_url}"}}'.encode()))
    with pytest.raises(VendorError) as err:
        _run(crosswalk, setup, [replace(userinfo, retries=0)])
    messages.append(str(err.value))
    assert "bad request to http://***:***@127.0.0.1" in messages[-1]
    run = _run(crosswalk, setup, [userinfo])
    assert run.stats["oa"].calls + run.stats["oa"].hits == 2 and fake.requests[-1].path == "/v1/chat/completions"
    assert {e["request"]["base_url"] for e in setup["cache"].entries()} == {oa.base_url}
    setup["cache"].export(tmp_path / "bundle.jsonl.gz")
    setup["cache"].close()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for part in SECRET_URL_PARTS:
        assert all(part not in m for m in messages) and part not in logged, part
        for path in tmp_path.rglob("*"):
            if path.is_file() and path.suffix != ".toml":
                data = path.read_bytes()
                data = gzip.decompress(data) if path.suffix == ".gz" else data
                assert part.encode() not in data, (part, path)


def test_a_base_url_that_is_not_a_url_is_refused_without_echoing_it(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(
        '[[member]]\nid = "a"\nvendor = "openai"\nmodel = "m"\nbase_url = "localhost:8000/v1?key=SECRETSECRET"\n',
        encoding="utf-8",
    )
    with pytest.raises(RuleError) as err:
        load_panel(path)
    assert err.value.problems == [
        f"{path} member 1: base_url 'localhost:8000/v1?key=***' is not an http(s) URL with a host "
        "(e.g. http://localhost:8000/v1)"
    ]


def test_opening_waits_for_a_process_that_is_creating_the_cache(tmp_path):
    """The CI flake: SQLite runs no busy handler for the WAL switch, so a second process opening the cache while
    the first still writes the new file in rollback mode failed at once with "database is locked"."""
    import sqlite3
    import threading
    import time

    from coder.panel.cache import DB_NAME

    folder = tmp_path / "c"
    folder.mkdir()
    holder = sqlite3.connect(folder / DB_NAME, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # a new file, rollback mode, its write lock held: the first process's moment
    holder.execute("CREATE TABLE scratch (x)")
    released = threading.Event()

    def release():
        time.sleep(0.6)
        holder.execute("ROLLBACK")
        released.set()

    threading.Thread(target=release).start()
    started = time.monotonic()
    with ResponseCache(folder) as cache:
        assert released.is_set() and time.monotonic() - started >= 0.5  # it waited instead of failing
        assert not cache.read_only
    holder.close()
    with ResponseCache(folder) as again:  # WAL now, and the schema is there
        assert not again.read_only
