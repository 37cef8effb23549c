"""The response cache: keys that cannot lie, entries, bundles, prune, the cache folder."""

from __future__ import annotations

import gzip
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coder.errors import CacheError
from coder.panel.cache import ResponseCache, cache_dir, cache_key, canonical_json, make_entry

REQUEST = {
    "vendor": "openai",
    "model": "gpt-x",
    "base_url": "http://127.0.0.1:1/v1",
    "temperature": 0.0,
    "top_p": None,
    "seed": None,
    "max_tokens": 300,
    "prompt": "직업 응답: 청소원",
    "template_sha256": "ab" * 32,
    "code_list": "ksco7:cd",
    "sample": 0,
}


def test_cache_dir_env_then_current_directory(tmp_path, monkeypatch):
    assert cache_dir() == tmp_path / "cache"  # conftest sets CODER_CACHE_DIR
    monkeypatch.delenv("CODER_CACHE_DIR")
    monkeypatch.chdir(tmp_path)
    assert cache_dir() == tmp_path / "cache"


def test_key_is_sha256_of_canonical_json():
    import hashlib

    text = canonical_json(REQUEST)
    assert text.startswith('{"base_url":"http://127.0.0.1:1/v1","code_list"')
    assert cache_key(REQUEST) == hashlib.sha256(text.encode()).hexdigest()


@settings(max_examples=50, deadline=None)
@given(st.permutations(list(REQUEST)))
def test_key_ignores_field_order(order):
    assert cache_key({k: REQUEST[k] for k in order}) == cache_key(REQUEST)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("vendor", "openai-compatible"),
        ("model", "gpt-y"),
        ("base_url", "http://127.0.0.1:2/v1"),
        ("temperature", 0.2),
        ("top_p", 0.9),
        ("seed", 7),
        ("max_tokens", 301),
        ("prompt", "직업 응답: 경비원"),
        ("template_sha256", "cd" * 32),
        ("code_list", "ksco8:ef"),
        ("sample", 1),
    ],
)
def test_key_changes_with_every_field(field, value):
    assert cache_key({**REQUEST, field: value}) != cache_key(REQUEST)


@settings(max_examples=50, deadline=None)
@given(st.floats(min_value=0, max_value=2, allow_nan=False), st.floats(min_value=0, max_value=2, allow_nan=False))
def test_key_distinguishes_temperatures(a, b):
    assert (cache_key({**REQUEST, "temperature": a}) == cache_key({**REQUEST, "temperature": b})) == (a == b)


def _filled(tmp_path, n=3) -> ResponseCache:
    cache = ResponseCache(tmp_path / "c1")
    for i in range(n):
        cache.put(
            {**REQUEST, "sample": i}, f'{{"code": "9411{i}"}}', {"input_tokens": 10, "output_tokens": 5}, "gpt-x-0001"
        )
    return cache


def test_put_get_and_stats(tmp_path):
    cache = _filled(tmp_path)
    key = cache_key({**REQUEST, "sample": 1})
    entry = cache.get(key)
    assert entry["response"] == {"text": '{"code": "94111"}'}
    assert entry["usage"] == {"input_tokens": 10, "output_tokens": 5}
    assert entry["model"] == "gpt-x-0001" and entry["request"]["sample"] == 1 and entry["key"] == key
    assert cache.get("0" * 64) is None
    stats = cache.stats()
    assert stats.entries == 3 and stats.by_model == {"openai/gpt-x": 3}
    assert "entries: 3" in stats.to_text()
    cache.close()


def test_export_import_round_trip_into_a_fresh_folder(tmp_path):
    cache = _filled(tmp_path)
    bundle = tmp_path / "bundle.jsonl.gz"
    assert cache.export(bundle) == 3
    lines = gzip.decompress(bundle.read_bytes()).decode().splitlines()
    assert [json.loads(x)["key"] for x in lines] == sorted(json.loads(x)["key"] for x in lines)
    assert set(json.loads(lines[0])) == {"key", "request", "response", "usage", "model", "created_utc"}
    fresh = ResponseCache(tmp_path / "c2")
    assert fresh.import_(bundle) == (3, 0)
    assert fresh.import_(bundle) == (0, 3)
    assert [e["key"] for e in fresh.entries()] == [e["key"] for e in cache.entries()]
    cache.close()
    fresh.close()


def test_import_refuses_a_key_that_is_not_its_request(tmp_path):
    cache = _filled(tmp_path, 2)
    bundle = tmp_path / "bundle.jsonl.gz"
    cache.export(bundle)
    lines = gzip.decompress(bundle.read_bytes()).decode().splitlines()
    bad = json.loads(lines[1])
    bad["request"]["temperature"] = 1.0  # an answer smuggled under another request's key
    lines[1] = json.dumps(bad)
    lines.append("{not json")
    bundle.write_bytes(gzip.compress("\n".join(lines).encode()))
    fresh = ResponseCache(tmp_path / "c2")
    with pytest.raises(CacheError) as err:
        fresh.import_(bundle)
    assert str(err.value) == (
        f"{bundle}: 2 bad line(s) in the cache bundle — line 2: key {bad['key'][:12]}… is not the sha256 of its "
        "request; line 3: not JSON (Expecting property name enclosed in double quotes). Nothing was imported; "
        "re-export the bundle with `coder cache export`."
    )
    assert len(fresh) == 0
    cache.close()
    fresh.close()


def test_import_of_a_file_that_is_not_a_bundle(tmp_path):
    path = tmp_path / "x.jsonl.gz"
    path.write_text("plain text", encoding="utf-8")
    with ResponseCache(tmp_path / "c") as cache, pytest.raises(CacheError, match=r"not a cache bundle \(gzip JSONL\)"):
        cache.import_(path)


def test_prune_by_age_model_and_all(tmp_path):
    cache = _filled(tmp_path, 3)
    old = {**REQUEST, "model": "old"}
    line = {
        "key": cache_key(old),
        "request": old,
        "response": {"text": "{}"},
        "usage": {},
        "model": "old",
        "created_utc": "2020-01-01T00:00:00+00:00",
    }
    bundle = tmp_path / "old.jsonl.gz"
    bundle.write_bytes(gzip.compress((json.dumps(line) + "\n").encode()))
    cache.import_(bundle)
    cache.put({**REQUEST, "model": "other"}, "{}", {}, "other")
    assert len(cache) == 5
    assert cache.prune(older_than_days=30) == 1
    assert cache.get(line["key"]) is None
    assert cache.prune(model="other") == 1
    assert len(cache) == 3
    assert cache.prune() == 3
    assert len(cache) == 0
    cache.close()


def test_no_answer_is_ever_evicted(tmp_path):
    """The cache has no size limit (diskcache culled the oldest entries past one); a paid answer stays."""
    with ResponseCache(tmp_path / "c") as cache:
        for i in range(60):
            cache.put({**REQUEST, "sample": i}, "{}", {"input_tokens": 1}, "gpt-x")
        cache.put_many([make_entry({**REQUEST, "sample": 100 + i}, "{}", {}, "gpt-x") for i in range(40)])
        assert len(cache) == 100


def test_import_counts_a_key_repeated_in_a_bundle_once(tmp_path):
    with ResponseCache(tmp_path / "a") as a:
        a.put(REQUEST, "{}", {}, "gpt-x")
        a.export(tmp_path / "b.jsonl.gz")
    line = gzip.decompress((tmp_path / "b.jsonl.gz").read_bytes())
    (tmp_path / "twice.jsonl.gz").write_bytes(gzip.compress(line + line))
    with ResponseCache(tmp_path / "c") as c:
        assert c.import_(tmp_path / "twice.jsonl.gz") == (1, 1)
        assert c.import_(tmp_path / "twice.jsonl.gz") == (0, 2)
        assert len(c) == 1
