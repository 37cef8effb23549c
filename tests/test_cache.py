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


# ------------------------------------------------------------------ issue 21: nothing loaded is executable, bounded imports


def _bundle_line(**changes) -> dict:
    entry = make_entry(REQUEST, '{"code": "94111"}', {"input_tokens": 10, "output_tokens": 5}, "gpt-x-0001")
    entry.update(changes)
    return entry


def test_entries_are_stored_as_json_text(tmp_path):
    import sqlite3

    with _filled(tmp_path, 2) as cache:
        path = cache.path
    with sqlite3.connect(path) as con:
        rows = con.execute("SELECT key, typeof(entry), entry FROM answers ORDER BY key").fetchall()
    assert [r[1] for r in rows] == ["text", "text"]
    assert [json.loads(r[2])["key"] for r in rows] == [r[0] for r in rows]


def test_a_row_that_is_not_a_valid_entry_is_ignored_and_reported(tmp_path):
    """A pickle (or any bytes) in place of an entry is never unpickled: the row is skipped and counted."""
    import os
    import pickle
    import sqlite3

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    with _filled(tmp_path, 2) as cache:
        path, good = cache.path, next(cache.entries())
    bad_types = {**good, "created_utc": 1700000000, "usage": "10"}
    with sqlite3.connect(path) as con:
        con.execute("INSERT INTO answers VALUES (?, ?)", ("f" * 64, pickle.dumps(Payload())))
        con.execute("INSERT INTO answers VALUES (?, ?)", ("e" * 64, json.dumps(bad_types)))
        con.execute("UPDATE answers SET entry = ? WHERE key = ?", (json.dumps(bad_types), good["key"]))
    with ResponseCache(tmp_path / "c1") as cache:
        stats = cache.stats()
        assert (stats.entries, stats.unreadable) == (1, 3)
        assert "unreadable: 3 row(s) that are not valid entries, ignored — a panel run asks the vendor again" in (
            stats.to_text()
        )
        assert cache.get("f" * 64) is None and good["key"] not in cache
        assert cache.prune(model="gpt-x") == 1  # prune never trips over them
        cache.put(good["request"], "{}", {}, "gpt-x")  # a run asks again and replaces the bad row
        assert cache.get(good["key"])["response"] == {"text": "{}"}
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        (
            {"created_utc": 1700000000},
            "created_utc must be a UTC time like 2026-01-31T12:00:00+00:00, not int 1700000000",
        ),
        (
            {"created_utc": "yesterday"},
            'created_utc must be a UTC time like 2026-01-31T12:00:00+00:00, not str "yesterday"',
        ),
        ({"usage": "10"}, 'usage must be an object of token counts (whole numbers ≥ 0), not str "10"'),
        (
            {"usage": {"input_tokens": -1}},
            'usage must be an object of token counts (whole numbers ≥ 0), not {"input_tokens": -1}',
        ),
        (
            {"usage": {"input_tokens": True}},
            'usage must be an object of token counts (whole numbers ≥ 0), not {"input_tokens": true}',
        ),
        ({"model": 7}, "model must be a string, not int 7"),
        ({"response": {"text": 1}}, "response.text must be a string"),
        ({"key": "ABC"}, "key must be 64 lower-case hex digits (a sha256)"),
    ],
)
def test_import_refuses_wrong_types_with_the_line_number(tmp_path, changes, problem):
    good = _bundle_line()
    bad = _bundle_line(**changes)
    bundle = tmp_path / "b.jsonl.gz"
    bundle.write_bytes(gzip.compress((json.dumps(good) + "\n" + json.dumps(bad) + "\n").encode()))
    with ResponseCache(tmp_path / "c") as cache:
        with pytest.raises(CacheError) as err:
            cache.import_(bundle)
        assert str(err.value) == (
            f"{bundle}: 1 bad line(s) in the cache bundle — line 2: {problem}. Nothing was imported; "
            "re-export the bundle with `coder cache export`."
        )
        assert len(cache) == 0
        stats = cache.stats()  # never crashes
        assert stats.entries == 0


def _members(data: bytes, copies: int) -> bytes:
    """``copies`` gzip members of ``data`` back to back: a small file that expands a lot (a gzip bomb)."""
    return gzip.compress(data, compresslevel=9) * copies


def test_a_gzip_bomb_without_newlines_is_refused_after_one_line(tmp_path):
    """611 KB-class bomb: 1.3 GB of one endless line. Refused once a line passes 1 MiB."""
    import time

    bundle = tmp_path / "bomb.jsonl.gz"
    bundle.write_bytes(_members(b"0" * (16 << 20), 80))  # 1.34 GB decompressed
    assert bundle.stat().st_size < 2 << 20
    t0 = time.perf_counter()
    with ResponseCache(tmp_path / "c") as cache, pytest.raises(CacheError) as err:
        cache.import_(bundle)
    assert time.perf_counter() - t0 < 5
    assert str(err.value) == (
        f"{bundle}: refused — line 1 is longer than 1,048,576 bytes (an entry is a few KB). Nothing was imported; "
        "give a bundle written by `coder cache export`."
    )


def test_a_gzip_bomb_of_valid_lines_is_refused_at_the_expansion_cap(tmp_path):
    """1.3 GB of one valid (large) entry repeated: refused after a bounded read, nothing imported."""
    import time

    from coder.panel.cache import MAX_EXPANSION, MIN_BUNDLE_BYTES

    line = (json.dumps(_bundle_line(response={"text": "a" * 500_000})) + "\n").encode()
    bundle = tmp_path / "bomb.jsonl.gz"
    bundle.write_bytes(_members(line * 64, 1_300_000_000 // (64 * len(line))))
    cap = max(MIN_BUNDLE_BYTES, MAX_EXPANSION * bundle.stat().st_size)
    assert cap < 600_000_000
    t0 = time.perf_counter()
    with ResponseCache(tmp_path / "c") as cache:
        with pytest.raises(CacheError) as err:
            cache.import_(bundle)
        assert time.perf_counter() - t0 < 20
        assert str(err.value) == (
            f"{bundle}: refused — it expands to more than {cap / 1e6:,.0f} MB (200× its size): not a bundle written "
            "by `coder cache export` (a gzip bomb?). Nothing was imported; give a bundle written by `coder cache export`."
        )
        assert len(cache) == 0


def test_import_stops_after_too_many_bad_lines(tmp_path):
    bundle = tmp_path / "b.jsonl.gz"
    bundle.write_bytes(_members(b"{}\n" * 1000, 1000))  # a million bad lines
    with ResponseCache(tmp_path / "c") as cache, pytest.raises(CacheError) as err:
        cache.import_(bundle)
    assert str(err.value).startswith(
        f"{bundle}: refused — stopped reading at line 100, after 100 bad lines; first bad lines: line 1: field(s) key, "
    )


def test_import_and_export_take_credentials_out_of_a_requests_base_url(tmp_path):
    secret = {**REQUEST, "base_url": "http://me:hunter22@127.0.0.1:1/v1?key=QUERYSECRET"}
    line = _bundle_line(request=secret, key=cache_key(secret))  # as an older version may have written it
    bundle = tmp_path / "old.jsonl.gz"
    bundle.write_bytes(gzip.compress((json.dumps(line) + "\n").encode()))
    with ResponseCache(tmp_path / "c") as cache:
        assert cache.import_(bundle) == (1, 0)
        clean = {**REQUEST, "base_url": "http://127.0.0.1:1/v1?key=***"}
        assert cache.get(cache_key(clean))["request"] == clean  # re-keyed on the clean request
        cache.export(tmp_path / "new.jsonl.gz")
    for path in (tmp_path / "c" / "answers.db", tmp_path / "new.jsonl.gz"):
        data = path.read_bytes()
        data = gzip.decompress(data) if path.suffix == ".gz" else data
        assert b"hunter22" not in data and b"QUERYSECRET" not in data
