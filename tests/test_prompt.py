"""The panel prompt's candidate list comes from the rater registry."""

from coder.codes import load_codes
from coder.panel.prompt import candidates_for
from coder.raters.base import REGISTRY, RaterSpec


def test_candidates_follow_the_registry_order_and_kinds():
    row = {
        "title_code": "94111",
        "rule_code": "9411",
        "rule_rule_id": "R0100",
        "rule_hits": "R0100=9411 R0200=4123",
        "index_code": "94111",
        "model_candidates": '[["9411",0.81],["99x",0.5]]',  # 99x is not a code: left out
        "fuzzy_candidates": '[["41231",0.9]]',
        "consistency_code": "9421",  # the consistency rater offers no candidates
    }
    assert candidates_for(row, load_codes()) == [
        ("94111", ["분류명 일치", "직업사전"]),
        ("9411", ["규칙 R0100", "모델 0.81"]),
        ("4123", ["규칙 R0200"]),
        ("41231", ["유사 명칭 0.90"]),
    ]


def test_a_new_registry_entry_offers_its_candidates(monkeypatch):
    import coder.panel.prompt as prompt

    extra = RaterSpec("embed", False, 0.9, candidates="ranked", label="임베딩")
    monkeypatch.setattr(prompt, "REGISTRY", (*REGISTRY, extra))
    got = candidates_for({"embed_candidates": '[["94111",0.95]]'}, load_codes())
    assert got == [("94111", ["임베딩 0.95"])]
