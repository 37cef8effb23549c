"""The batched model rater and status pass give what the former per-key code gave (issue 22).

The former implementation is kept here, verbatim but for names, as the reference: features per
key with a ``Counter``, two vectorizers, ``known_share`` looping again over the n-grams,
``level_proba`` through a sparse matrix, ``chain`` with a mask per level, top-k sorted in Python
and ``json.dumps`` per key.  It runs on whatever model is shipped (it may be retrained), and the
two must agree bit for bit: the matrices, the probabilities, the chains, the evidence, and the
rater's codes, scores, details, candidates and evidence.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse

from coder.normalize import label_key
from coder.raters import model as model_module
from coder.raters.index import load_index
from coder.raters.model import load_model, model_rater
from coder.raters.model_core import JobModel, Vectorizer, apply_calibration, key_features, softmax

HELD_OUT = Path(__file__).parent / "data" / "non_occupations.txt"
JUNK = [
    "a",
    "S:ab",
    "S:사원",
    "xS:사원",
    "S:원S:원",
    "a\ud800b",  # a lone surrogate
    "\U0010ffff",
    "a\x00b",
    "가\n",
    "(가)\n",
    "y" * 300,
    "^$",
    "(x)",
    "ab(c)",
    "ab(c)\n",
    "가나다(라)(마)",
    "()",
    "x" * 60,
    "원원원원원원",
    "🙂🙂",
    "ㄱㄴㄷ",
    "ZZZ",
    "1234",
    "#value!",
    "회사원",
    "간호사(대학병원)",
    "현대자동차생산직",
]

# --------------------------------------------------------------------------- the former code


def old_transform(vec: Vectorizer, keys):
    indptr, indices, data = [0], [], []
    vocab = vec.vocab
    for key in keys:
        counts = Counter(f for f in key_features(key, vec.ngram_max, vec.suffix_max) if f in vocab)
        for f, n in counts.items():
            indices.append(vocab[f])
            data.append(1.0 + math.log(n))
        indptr.append(len(indices))
    idx = np.asarray(indices, dtype=np.int32)
    vals = np.asarray(data, dtype=np.float32) * vec.idf[idx]
    X = sparse.csr_matrix((vals, idx, np.asarray(indptr, dtype=np.int64)), shape=(len(keys), len(vec.idf)))
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sparse.csr_matrix(sparse.diags((1.0 / norms).astype(np.float32)) @ X)


def old_scores(m: JobModel, keys):
    X = old_transform(m.vectorizer, keys)
    S = np.zeros((len(keys), len(m.classes)), dtype=np.float32)
    for W, b, anc in zip(m.weights, m.intercepts, m.ancestors, strict=True):
        D = (X @ W).toarray() + b
        S += D[:, anc]
    return S


def old_predict_proba(m: JobModel, keys):
    return softmax(old_scores(m, keys) / m.temperature)


def old_level_proba(m: JobModel, keys, P=None):
    P = old_predict_proba(m, keys) if P is None else P
    out = []
    for names, anc in zip(m.level_classes, m.ancestors, strict=True):
        M = sparse.csr_matrix(
            (np.ones(len(anc), dtype=np.float64), (np.arange(len(anc)), anc)), shape=(len(anc), len(names))
        )
        out.append(np.asarray(M.T @ P.astype(np.float64).T).T)
    return out


def old_chain(m: JobModel, keys, P=None):
    levels = old_level_proba(m, keys, P)
    n = len(levels[0]) if levels else 0
    codes = np.empty((n, len(levels)), dtype=object)
    raw = np.zeros((n, len(levels)))
    chosen = None
    for lv, (names, Q) in enumerate(zip(m.level_classes, levels, strict=True)):
        if chosen is None:
            pick = Q.argmax(axis=1)
        else:
            parent = {c: i for i, c in enumerate(m.level_classes[lv - 1])}
            parent_idx = np.array([parent.get(c[:-1], -1) for c in names])
            pick = np.where(parent_idx[None, :] == chosen[:, None], Q, -1.0).argmax(axis=1)
        codes[:, lv] = np.array(names, dtype=object)[pick]
        raw[:, lv] = Q[np.arange(n), pick]
        chosen = pick
    cal = apply_calibration(m.calibration, raw)
    return codes, raw, cal


def old_known_share(vocab, keys, ngram_max=4):
    out = np.ones(len(keys))
    for i, key in enumerate(keys):
        t = f"^{key}$"
        grams = [t[i : i + n] for n in range(2, ngram_max + 1) for i in range(len(t) - n + 1)]
        if grams:
            out[i] = sum(g in vocab for g in grams) / len(grams)
    return out


def old_evidence_of(m: JobModel, keys):
    if m.evidence is None:
        return np.full(len(keys), np.nan)
    ev = m.evidence
    if not len(keys):
        p = np.zeros(0)
    else:
        z = old_transform(ev.vectorizer, keys) @ ev.weights.astype(np.float64) + ev.bias
        p = 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64).ravel()))
    known = old_known_share(m.vectorizer.vocab, keys, m.vectorizer.ngram_max)
    return np.where(known >= ev.known_floor, p, 0.0)


def old_top_k(m: JobModel, P, k):
    k = min(k, P.shape[1])
    part = np.argpartition(-P, k - 1, axis=1)[:, :k]
    return [
        [(m.classes[c], float(P[i, c])) for c in sorted(cols, key=lambda c: (-P[i, c], m.classes[c]))]
        for i, cols in enumerate(part)
    ]


def old_model_rater(keys, *, k=5, model, threshold, evidence_threshold):
    distinct = sorted({key for key in keys if key})
    answer = {}
    if distinct:
        P = old_predict_proba(model, distinct)
        codes, _, cal = old_chain(model, distinct, P)
        tops = old_top_k(model, P, k)
        evidence = old_evidence_of(model, distinct)
        for i, key in enumerate(distinct):
            e = float(evidence[i])
            none = not math.isnan(e) and e < evidence_threshold
            ok = np.flatnonzero(cal[i] >= threshold)
            lv = int(ok[-1]) if len(ok) and not none else -1
            code = str(codes[i, lv]) if lv >= 0 else ""
            score = float(cal[i, lv]) if lv >= 0 else float(cal[i, 0])
            levels = [[str(c), round(float(p), 4)] for c, p in zip(codes[i], cal[i], strict=True)]
            top = [[c, round(p, 4)] for c, p in tops[i]]
            info = {"levels": levels, "top": top}
            if not math.isnan(e):
                info["evidence"] = round(e, 4)
            detail = json.dumps(info, ensure_ascii=False, separators=(",", ":"))
            cands = () if none else tuple((c, round(p, 4)) for c, p in tops[i])
            answer[key] = (code, round(score, 4), detail, cands, round(e, 4) if not math.isnan(e) else math.nan)
    out = [answer.get(key, ("", math.nan, "", (), math.nan)) for key in keys]
    return (
        tuple(a[0] for a in out),
        tuple(a[1] for a in out),
        tuple(a[2] for a in out),
        tuple(a[3] for a in out),
        tuple(a[4] for a in out),
    )


# --------------------------------------------------------------------------- data


@pytest.fixture(scope="module")
def model() -> JobModel:
    return load_model()


@pytest.fixture(scope="module")
def keys(npk_labels) -> list[str]:
    """NPK keys, the held-out non-occupations, every 3rd job-dictionary name, junk and edge cases."""
    texts = [*npk_labels["occupation"].tolist(), *HELD_OUT.read_text(encoding="utf-8").splitlines()]
    texts += [e.text for e in load_index().entries][::3]
    out = [label_key(t) for t in texts if t and not t.startswith("#")] + JUNK
    return sorted({k for k in out if k})


def _same(a: np.ndarray, b: np.ndarray) -> None:
    assert a.shape == b.shape and a.dtype == b.dtype
    np.testing.assert_array_equal(a, b)  # bit for bit (NaN equal to NaN)


def _same_csr(a: sparse.csr_matrix, b: sparse.csr_matrix) -> None:
    assert a.shape == b.shape
    for part in ("data", "indices", "indptr"):
        _same(getattr(a, part), getattr(b, part))


# --------------------------------------------------------------------------- tests


def test_enough_keys(keys):
    assert len(keys) > 4000


def test_features_and_matrices_are_the_former_ones(model, keys):
    _same_csr(model.vectorizer.transform(keys), old_transform(model.vectorizer, keys))
    if model.evidence is not None:
        ev = model.evidence.vectorizer
        _same_csr(ev.transform(keys), old_transform(ev, keys))
    f = model._features(keys)
    _same_csr(f.X, old_transform(model.vectorizer, keys))
    if model.evidence is not None:
        assert f.Xev is not None  # the shipped detector's features are among the model's
        _same_csr(f.Xev, old_transform(model.evidence.vectorizer, keys))
    _same(f.known, old_known_share(model.vectorizer.vocab, keys, model.vectorizer.ngram_max))
    plain = [k for k in keys if "S:" not in k]  # no string at places of both kinds: one pass for both matrices
    if model.evidence is not None:
        g = model._features(plain)
        _same_csr(g.X, old_transform(model.vectorizer, plain))
        _same_csr(g.Xev, old_transform(model.evidence.vectorizer, plain))
    for odd in ([], [""], ["a"], ["(b)\n"], ["", "가"]):
        _same_csr(model.vectorizer.transform(odd), old_transform(model.vectorizer, odd))
        _same_csr(model._features(odd).X, old_transform(model.vectorizer, odd))
        _same(model.evidence_of(odd), old_evidence_of(model, odd))
        th, et = model_module.MODEL_THRESHOLD, model_module.EVIDENCE_THRESHOLD
        new = model_rater(odd, model=model)
        old = old_model_rater(odd, model=model, threshold=th, evidence_threshold=et)
        assert (new.codes, new.details, new.candidates) == (old[0], old[2], old[3])


def test_probabilities_chain_top_k_and_evidence_are_the_former_ones(model, keys):
    P = model.predict_proba(keys)
    _same(P, old_predict_proba(model, keys))
    S = old_scores(model, keys)
    _same(model._scores(model._features(keys).X, dense=True), S)  # the rater's dense weights
    _same(model.scores(keys), S)
    for new, old in zip(model.level_proba(keys, P), old_level_proba(model, keys, P), strict=True):
        _same(np.ascontiguousarray(new), np.ascontiguousarray(old))
    for new, old in zip(model.chain(keys, P), old_chain(model, keys, P), strict=True):
        _same(new, old)
    for k in (1, 5, 12):
        assert model.top_k(keys[:500], k) == old_top_k(model, P[:500], k)
    _same(model.evidence_of(keys), old_evidence_of(model, keys))


def test_top_k_with_ties_is_the_former_one(model):
    """Rows with equal probabilities at and around the k-th place, all equal, NaN: the former argpartition's set."""
    rng = np.random.default_rng(7)
    P = rng.random((400, len(model.classes))).astype(np.float32)
    P[:100, :40] = P[:100, :1]  # many ties, at the top
    P[100:200] = np.round(P[100:200], 1)  # ties everywhere, at the boundary too
    P[200:220] = 0.5
    P[220:230, 3] = np.nan
    P[230:300] = np.sort(P[230:300], axis=1)  # the largest last
    for k in (1, 2, 5, 16, 17, len(model.classes)):
        cols, vals = model._top(P, k)
        old = old_top_k(model, P, k)
        assert [[model.classes[c] for c in row] for row in cols] == [[c for c, _ in row] for row in old]
        new_vals = [[float(v) for v in row] for row in vals]
        assert np.array_equal(np.array(new_vals), np.array([[p for _, p in row] for row in old]), equal_nan=True)


@pytest.mark.parametrize("batch", [8192, 97])
def test_model_rater_is_the_former_rater(model, keys, monkeypatch, batch):
    """Codes, scores, details, candidates and evidence; batch edges inside the keys (97) too."""
    monkeypatch.setattr(model_module, "RATE_BATCH", batch)
    given = [*keys, "", keys[3], "간호사"]  # an empty key and repeats
    for k, threshold, ev in ((5, model_module.MODEL_THRESHOLD, model_module.EVIDENCE_THRESHOLD), (3, 0.0, 0.0)):
        new = model_rater(given, k=k, model=model, threshold=threshold, evidence_threshold=ev)
        old = old_model_rater(given, k=k, model=model, threshold=threshold, evidence_threshold=ev)
        assert new.codes == old[0]
        assert np.array_equal(np.array(new.scores, dtype=float), np.array(old[1], dtype=float), equal_nan=True)
        assert new.details == old[2]
        assert new.candidates == old[3]
        assert np.array_equal(np.array(new.extra["evidence"]), np.array(old[4]), equal_nan=True)
        assert new.extra["final_ok"] == tuple(bool(c) for c in old[0])
        assert any(new.codes) and not all(new.codes)


def test_dense_weights_are_made_only_for_many_keys_and_change_no_answer(keys, monkeypatch):
    """A run of few keys (NPK's 2,120) rates with the sparse weights and makes no 190 MB dense copy; a run
    of at least DENSE_MIN_KEYS makes it and keeps it; both give every key the same answer."""
    from coder.raters.model_fit import with_changes

    fresh = with_changes(load_model())  # no first-call work done yet
    few = model_rater(keys, model=fresh)
    assert "_dense_weights" not in vars(fresh)
    monkeypatch.setattr(model_module, "DENSE_MIN_KEYS", len(keys))
    many = model_rater(keys, model=fresh)
    assert "_dense_weights" in vars(fresh) and any(w is not None for w in fresh._dense_weights)
    again = model_rater(keys[:50], model=fresh)  # kept once made: a later small batch uses it too
    for new in (many, again):
        n = len(new.keys)
        assert (new.codes, new.details, new.candidates) == (few.codes[:n], few.details[:n], few.candidates[:n])
        assert np.array_equal(np.array(new.scores, dtype=float), np.array(few.scores[:n], dtype=float), equal_nan=True)


def test_the_general_paths_are_the_former_rater(model, keys):
    """Features by name (no integer n-grams), scores through sparse products level by level (no dense
    weights, no per-level parents), a detector looked up on its own: still the former outputs."""
    import dataclasses

    from coder.raters.model_fit import with_changes

    plain = with_changes(model)
    plain.__dict__["_plan"] = dataclasses.replace(model._plan, grams=None, up=None, ev_of=None)
    plain.__dict__["_dense_weights"] = (None,) * len(model.weights)
    some = keys[::5]
    new = model_rater(some, model=plain)
    old = old_model_rater(
        some, model=model, threshold=model_module.MODEL_THRESHOLD, evidence_threshold=model_module.EVIDENCE_THRESHOLD
    )
    assert (new.codes, new.scores, new.details, new.candidates) == (old[0], old[1], old[2], old[3])
    _same(plain.predict_proba(some), old_predict_proba(model, some))


def test_a_model_without_detector_is_rated_as_before(model, keys):
    from coder.raters.model_fit import with_changes

    bare = with_changes(model, evidence=None)
    some = keys[::7]
    new = model_rater(some, model=bare)
    old = old_model_rater(
        some,
        model=bare,
        threshold=model_module.MODEL_THRESHOLD,
        evidence_threshold=model_module.EVIDENCE_THRESHOLD,
    )
    assert (new.codes, new.details, new.candidates) == (old[0], old[2], old[3])
    assert all(math.isnan(e) for e in new.extra["evidence"])


def test_json_spelling_of_odd_numbers(model, keys):
    """Rows whose calibrated probabilities are NaN are spelt as the json module spells them."""
    from coder.raters.model_fit import with_changes

    knots = (np.array([0.0, 0.9, 1.0]), np.array([0.0, 0.9, np.nan]))  # NaN above 0.9
    odd = with_changes(model, calibration=(knots,) * len(model.level_classes))
    some = keys[::11]
    new = model_rater(some, model=odd, threshold=0.0, evidence_threshold=0.0)
    old = old_model_rater(some, model=odd, threshold=0.0, evidence_threshold=0.0)
    assert any("NaN" in d for d in new.details) and any("NaN" not in d for d in new.details)
    assert (new.codes, new.details, new.candidates) == (old[0], old[2], old[3])


# --------------------------------------------------------------------------- the status pass


def old_find(rule, key):
    from coder.patterns import MAX_MATCH_CHARS

    if len(key) > MAX_MATCH_CHARS:
        return None
    if rule.match == "full":
        return rule.regex.fullmatch(key)
    if rule.match == "prefix":
        return rule.regex.match(key)
    if rule.match == "suffix":
        return rule._suffix_regex.search(key)
    return rule.regex.search(key)


def old_word_cuts(label, key, core):
    at = key.find(core)
    if at < 0 or " " not in label:
        return ()
    words = label.split(" ")
    ends = {len(label_key(" ".join(words[:i]))) for i in range(1, len(words))}
    return tuple(sorted(e - at for e in ends if at < e < at + len(core)))


def old_typo(key, freq=None):
    import coder.status as status

    if not 3 <= len(key) <= 12:
        return ""
    jamo = old_jamo(key)
    if jamo is None:
        return ""
    if freq is None:
        freq = status._frequent(status.file_identity(status.data_path("rules", status.FREQUENT_FILE)))
    if key in freq.answers:
        return ""
    near = set()
    for d in status._deletions(jamo):
        near |= freq.by_deletion.get(d, frozenset())
    found = [a for a in near if status._one_edit(jamo, old_jamo(a) or "")]
    return found[0] if len(found) == 1 else ""


def old_jamo(text):
    out = []
    for ch in text:
        o = ord(ch) - 0xAC00
        if not 0 <= o < 11172:
            return None
        lead, rest = divmod(o, 588)
        vowel, tail = divmod(rest, 28)
        out.append(chr(0x1100 + lead) + chr(0x1161 + vowel) + (chr(0x11A7 + tail) if tail else ""))
    return "".join(out)


def old_parse_status(keys, rules=None, *, occupation=None, codes=None, labels=None):
    import coder.status as status

    if rules is None:
        rules = status.load_status_rules()
    occ = status._memo(occupation) if occupation is not None else status.occupation_oracle(codes)
    codes = codes if codes is not None else status.load_codes()
    frequent = status._frequent(status.file_identity(status.data_path("rules", status.FREQUENT_FILE)))
    out = []
    for n, key in enumerate(keys):
        st = status._match_status(key, rules, occ)
        if st.status in ("", "job_seeker", "former") and st.core_key and not occ(st.core_key):
            cuts = status._word_cuts(labels[n], key, st.core_key) if labels is not None else ()
            core, note = status.read_wording(st.core_key, occ, codes=codes, rules=rules, frequent=frequent, cuts=cuts)
            if note and st.status:
                st = status.LabelStatus(st.status, core, st.status_id, note)
            elif note:
                again = status._match_status(core, rules, occ)
                st = status.LabelStatus(again.status, again.core_key, again.status_id, note)
                aside = next((note[len(p) :] for p in (status._QUALIFIER, status._PREFIX) if note.startswith(p)), "")
                if not st.status and aside:
                    st = status._status_aside(aside, st, rules, occ)
        out.append(st)
    return out


def _one_jamo_off(text: str, i: int) -> str:
    """``text`` with the trailing consonant of its syllable ``i`` changed (a typo the status pass reads)."""
    o = ord(text[i]) - 0xAC00
    if not 0 <= o < 11172:
        return text
    return text[:i] + chr(0xAC00 + o - o % 28 + (o % 28 + 1) % 28) + text[i + 1 :]


@pytest.fixture(scope="module")
def status_labels(npk_labels) -> list[str]:
    from coder.normalize import normalize_label
    from coder.status import frequent_answers

    base = npk_labels["occupation"].tolist()
    words = ["서울", "현대자동차", "na", "NA", "A사", "프리랜서", "전직", "퇴직", "前", "3년차", "(주)", "알바"]
    out = [*base, *HELD_OUT.read_text(encoding="utf-8").splitlines(), *JUNK]
    out += [f"{w} {b}" for w in words for b in base[::7]]
    out += [f"{b} {w}" for w in words for b in base[::11]]
    out += [f"{b}, 과장" for b in base[::13]] + [f"{b}(퇴직)" for b in base[::13]] + [f"{b} 퇴직" for b in base[::17]]
    out += [_one_jamo_off(a, i) for a in frequent_answers() for i in range(len(a))]
    out += [
        "na 간호사",
        "nan 회사원",
        "- 교사",
        "n a 간호사",
        "  서울  현대 생산직 ",
        "ＡＢＣ 간호사",
        "서울·부산 간호사",
        *("A&B 간호사", "a-b 교사", "... 간호사", "?? 회사원", "[주] 간호사", "{주} 간호사", "(주) 현대 생산직"),
        *("na, 교사", "NaN 교사 보조", "絲 교사", "Ⅲ 교사", "ﬁ 교사", "Σ 교사", "İ 교사", "전 · 간호사", "·· 교사"),
    ]
    labels = [normalize_label(t) for t in out if not t.startswith("#")]
    # and a few labels as typed (the pass is given normalised labels, but must not depend on it)
    raw = [
        "회사원 , 과장",
        "서울 ·부산 간호사",
        "  서울  현대 생산직 ",
        "서울 ( 본사 ) 간호사",
        "na , 교사",
        "ｎａ 교사",
    ]
    return list(dict.fromkeys([*labels, *raw]))


def test_status_pass_is_the_former_one(status_labels, monkeypatch):
    import coder.status as status

    keys = [label_key(t) for t in status_labels]
    assert len(keys) > 5000
    assert status._jamo("한국어") == old_jamo("한국어") and status._jamo("한a") is None
    new = status.parse_status(keys, labels=status_labels)
    with monkeypatch.context() as m:
        m.setattr(status.StatusRule, "find", old_find)
        m.setattr(status.StatusRules, "candidates", lambda self, key: self.rules)
        m.setattr(status, "_word_cuts", old_word_cuts)
        m.setattr(status, "_jamo", old_jamo)
        m.setattr(status, "_typo", old_typo)
        status._frequent.cache_clear()
        old = old_parse_status(keys, labels=status_labels)
    status._frequent.cache_clear()
    assert new == old
    assert {s.status for s in new} >= {"", "not_employed", "job_seeker", "former", "employed_unstated", "unknown"}
    notes = [s.note.split(":")[0] for s in new if s.note]
    assert {"qualifier", "prefix", "typo"} <= set(notes)


def test_typo_reading_is_the_former_one():
    """Every frequent answer with one syllable's leading consonant, vowel or trailing consonant changed,
    its trailing consonant dropped or added, two syllables changed, and the answers themselves."""
    import coder.status as status
    from coder.status import frequent_answers

    def variants(a: str):
        yield a
        for i, ch in enumerate(a):
            o = ord(ch) - 0xAC00
            lead, vowel, tail = o // 588, (o % 588) // 28, o % 28
            for lead2, vowel2, tail2 in (
                ((lead + 1) % 19, vowel, tail),
                (lead, (vowel + 1) % 21, tail),
                (lead, vowel, (tail + 1) % 28),
                (lead, vowel, 0),
                (lead, vowel, 4),
            ):
                b = a[:i] + chr(0xAC00 + (lead2 * 21 + vowel2) * 28 + tail2) + a[i + 1 :]
                yield b
                yield _one_jamo_off(b, (i + 1) % len(a))
            yield a[:i] + "a" + a[i + 1 :]

    keys = {v for a in frequent_answers() for v in variants(a)}
    assert len(keys) > 3000
    new = {k: status._typo(k) for k in keys}
    assert new == {k: old_typo(k) for k in keys}
    assert sum(bool(v) for v in new.values()) > 500


def test_the_crosswalk_is_the_one_the_former_code_gives(npk_labels, status_labels, monkeypatch):
    """NPK labels, the held-out non-occupations and the status variants coded end to end, with the
    former model rater and status pass swapped in: the same crosswalk, every column."""
    import pandas as pd

    import coder.pipeline as pipeline
    import coder.status as status
    from coder.labels import tabulate_labels
    from coder.raters.base import RaterResult

    texts = [t for t in status_labels if t.encode("utf-8", "surrogatepass").decode("utf-8", "replace") == t]
    labels = tabulate_labels(pd.Series(texts, dtype=object))  # (a lone surrogate is no text a file can hold)
    new = pipeline.code_labels(labels)

    def former_rater(keys, *, k=5, model=None, threshold=model_module.MODEL_THRESHOLD):
        model = model or load_model()
        ev = model_module.EVIDENCE_THRESHOLD
        c, s, d, cands, e = old_model_rater(keys, k=k, model=model, threshold=threshold, evidence_threshold=ev)
        extra = {"final_ok": tuple(bool(x) for x in c), "evidence": e}
        return RaterResult("model", tuple(keys), c, s, d, extra=extra, candidates=cands)

    monkeypatch.setattr(pipeline, "model_rater", former_rater)
    monkeypatch.setattr(pipeline, "parse_status", old_parse_status)
    monkeypatch.setattr(status.StatusRule, "find", old_find)
    monkeypatch.setattr(status.StatusRules, "candidates", lambda self, key: self.rules)
    monkeypatch.setattr(status, "_word_cuts", old_word_cuts)
    monkeypatch.setattr(status, "_jamo", old_jamo)
    monkeypatch.setattr(status, "_typo", old_typo)
    status._frequent.cache_clear()
    try:
        old = pipeline.code_labels(labels)
    finally:
        status._frequent.cache_clear()
    assert len(new) > 5000
    pd.testing.assert_frame_equal(new, old)


def _former_gram_codes(union, ngram_max):
    """The n-gram integer codes as the plan built them before they were computed with numpy (a Python loop)."""
    alphabet = sorted({ord(c) for f in union for c in f})
    if not 1 <= ngram_max <= 4 or len(alphabet) >= 2**16 - 1:
        return None
    rank = {c: i + 1 for i, c in enumerate(alphabet)}
    codes, ids = [], []
    for f, u in union.items():
        if 1 <= len(f) <= ngram_max:
            codes.append(sum(rank[ord(c)] << (16 * j) for j, c in enumerate(f)))
            ids.append(u)
    codes_a = np.asarray(codes, dtype=np.uint64)
    order = np.argsort(codes_a, kind="stable")
    single = np.zeros(len(alphabet) + 1, dtype=np.int64)
    for f, u in union.items():
        if len(f) == 1:
            single[rank[ord(f)]] = u
    return np.asarray(alphabet, dtype=np.uint32), codes_a[order], np.asarray(ids, dtype=np.int64)[order], single


@pytest.mark.parametrize(
    ("union", "ngram_max"),
    [
        (None, None),  # the shipped model's own union
        ({}, 3),
        ({"a": 1, "": 2, "ab": 3, "abcdef": 4, "\ud800x": 5, "b": 6, "가나다": 7, "S:다": 8}, 3),
        ({"": 3, "a": 1, "abcde": 2, "zz": 4}, 4),
        ({"xyz": 1}, 1),
        ({"x": 1}, 5),  # codes would not fit 64 bits
    ],
)
def test_ngram_codes_are_the_former_ones(model, union, ngram_max):
    from coder.raters.model_core import _gram_codes, _Plan

    if union is None:
        union, ngram_max = _Plan.of(model).union, model.vectorizer.ngram_max
        assert len(union) > 50_000
    former, now = _former_gram_codes(union, ngram_max), _gram_codes(union, ngram_max)
    if former is None:
        assert now is None
        return
    for a, b in zip(former, now, strict=True):
        assert a.dtype == b.dtype and np.array_equal(a, b)


def _former_union(model):
    """The plan's union, main_of and ev_of as the plan built them before dict(zip(...)) and np.fromiter (Python loops)."""
    union, main = {}, [-1]
    for f, i in model.vectorizer.vocab.items():
        union[f] = len(main)
        main.append(i)
    ev, ev_of = model.evidence, None
    if (
        ev is not None
        and ev.vectorizer.ngram_max <= model.vectorizer.ngram_max
        and ev.vectorizer.suffix_max <= model.vectorizer.suffix_max
    ):
        for f in ev.vectorizer.vocab:
            if f not in union:
                union[f] = len(main)
                main.append(-1)
        ev_of = np.full(len(main), -1, dtype=np.int64)
        for f, i in ev.vectorizer.vocab.items():
            ev_of[union[f]] = i
    return union, np.asarray(main, dtype=np.int64), ev_of


def _stored_vocabs(model):
    """The vocabularies of the stored model read as the former loader read them (``str`` of each numpy string)."""
    with np.load(model_module.MODEL_DIR / f"{model_module.MODEL_NAME}.npz", allow_pickle=False) as z:
        main = {str(t): i for i, t in enumerate(z["vocab"])}
        ev = {str(t): i for i, t in enumerate(z["ev_vocab"])} if model.evidence is not None else None
    return main, ev


def _with_vocabs(model, main, ev):
    """The model with other vocabularies (its weights no longer fit them: for the plan only)."""
    vec = dataclasses.replace(model.vectorizer, vocab=main)
    detector = dataclasses.replace(model.evidence, vectorizer=dataclasses.replace(model.evidence.vectorizer, vocab=ev))
    return dataclasses.replace(model, vectorizer=vec, evidence=detector)


def test_loaded_vocabularies_and_plan_are_the_former_ones(model):
    """The loader's vocabularies, and the plan's union, main_of, ev_of, n-gram codes and suffixes' lookup,
    are the former ones, entry for entry and in order: for the shipped model (read from its arrays), for
    vocabularies as dicts holding other indices and a detector feature the model lacks, and for odd stored
    names (NULs inside, 1-character arrays, a name stored twice: read as dicts)."""
    from coder.raters.model_core import StoredNames, _gram_codes, _Plan

    main, ev = _stored_vocabs(model)
    assert list(model.vectorizer.vocab.items()) == list(main.items())
    assert isinstance(model.vectorizer.vocab, StoredNames)
    models = [model]
    if ev is not None:
        assert list(model.evidence.vectorizer.vocab.items()) == list(ev.items())
        shuffled = dict(reversed(list(main.items())))
        models.append(_with_vocabs(model, shuffled, {"S:없는말": 0, **{f: i + 1 for f, i in ev.items()}}))
        odd = ["a\x00b", "S:가", "x", "가나", "S:", "abcdef", "", "\ud800", "S:\x00a", "\x00\x00b"]
        for names, ev_names in (
            (odd, ["x", "S:나", "가나", "zz", "\x00x", "S:"]),
            (["a", "b"], ["c"]),
            (["a", "b", "a"], ["c"]),  # stored twice
            (["a", "b"], ["c", "c"]),
            (["S", "S:", "ab"], ["S:"]),
        ):
            stored = (StoredNames(np.array(names, dtype=str)), StoredNames(np.array(ev_names, dtype=str)))
            assert (_Plan._stored(_with_vocabs(model, *stored)) is None) == (
                len(set(names)) < len(names) or len(set(ev_names)) < len(ev_names)
            )
            models.append(_with_vocabs(model, *stored))
            models.append(_with_vocabs(model, dict(stored[0]), dict(stored[1])))
    for m in models:
        plan = _Plan.of(m)
        union, main_of, ev_of = _former_union(m)
        assert list(plan.union.items()) == list(union.items())
        suffixes = {f: u for f, u in union.items() if f.startswith("S:")}
        assert plan.suffixes is plan.union or list(plan.suffixes.items()) == list(suffixes.items())
        _same(plan.main_of, main_of)
        assert (plan.ev_of is None) == (ev_of is None)
        if ev_of is not None:
            _same(plan.ev_of, ev_of)
        for a, b in zip(_former_gram_codes(union, m.vectorizer.ngram_max), plan.grams, strict=True):
            _same(a, b)
        for a, b in zip(_gram_codes(union, m.vectorizer.ngram_max), plan.grams, strict=True):
            _same(a, b)


def _npz_arrays(path) -> dict:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def test_model_arrays_are_read_as_np_load_reads_them(tmp_path):
    """The loader's own .npz reading gives np.load's arrays (dtype, shape, values bit for bit) for the
    shipped model and for deflated and stored files of odd arrays; an object array is refused."""
    shipped = model_module.MODEL_DIR / f"{model_module.MODEL_NAME}.npz"
    odd = {
        "f": np.asfortranarray(np.arange(12, dtype=np.float32).reshape(3, 4)),
        "big": np.arange(5, dtype=">i4"),
        "zero_d": np.array(3.5),
        "empty": np.zeros((0, 3), dtype=np.int16),
        "text": np.array(["a\x00b", "", "가나다라마바사아", "\U0010ffff"]),
        "half": np.array([np.nan, -0.0, 1e-7, 65504], dtype=np.float16),
        "rec": np.zeros(2, dtype=[("x", "<i2"), ("y", "<f8")]),
    }
    np.savez_compressed(tmp_path / "deflated.npz", **odd)
    np.savez(tmp_path / "stored.npz", **odd)
    for path in (shipped, tmp_path / "deflated.npz", tmp_path / "stored.npz"):
        new, old = model_module._read_arrays(path.read_bytes()), _npz_arrays(path)
        assert list(new) == list(old)
        for k in old:
            _same(new[k], old[k])
            assert new[k].flags.f_contiguous == old[k].flags.f_contiguous
    np.savez(tmp_path / "object.npz", vocab=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="allow_pickle=False"):
        model_module._read_arrays((tmp_path / "object.npz").read_bytes())


def test_the_used_rows_of_the_weights_give_the_sparse_scores(model, keys, monkeypatch):
    """Scores made with dense copies of the weight rows the keys use are the former sparse scores, bit for
    bit, whether every level, some or none fit USED_WEIGHTS_BYTES; and for a single key."""
    from coder.raters import model_core
    from coder.raters.model_core import _used_columns

    X = model._features(keys).X
    rows, Xu = _used_columns(X)
    assert 0 < len(rows) < X.shape[1] and Xu.shape == (X.shape[0], len(rows)) and Xu.nnz == X.nnz
    _same(Xu.data, X.data)
    _same(rows[Xu.indices], X.indices.astype(rows.dtype))
    S = old_scores(model, keys)
    widths = [W.shape[1] for W in model.weights]
    for budget in (0, len(rows) * 4 * min(widths), 2**40):  # none, the narrowest level, every level
        monkeypatch.setattr(model_core, "USED_WEIGHTS_BYTES", budget)
        _same(model._scores(X), S)
        _same(model._scores(model._features(["간호사"]).X), old_scores(model, ["간호사"]))
