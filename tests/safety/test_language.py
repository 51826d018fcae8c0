"""One definition of a CJK character (chatbot.safety.language), used by the screen, retrieval, ingest and evals."""

from __future__ import annotations

import re

from chatbot.config import PROJECT_ROOT
from chatbot.retrieval.tokenize import tokenize
from chatbot.safety import language, text
from chatbot.safety.language import cjk_count, detect_language, has_cjk

EXTENSION_A = "\u3400"  # 㐀, CJK Unified Ideographs Extension A
COMPATIBILITY = "\uf900"  # 豈, CJK Compatibility Ideographs
HEXAGRAM = "\u4dc0"  # ䷀, Yijing hexagram symbol: between the ideograph blocks, not Chinese text


def test_the_range_covers_every_ideograph_block_and_nothing_else():
    assert has_cjk("胸口疼") and has_cjk(EXTENSION_A) and has_cjk(COMPATIBILITY) and has_cjk("\u9fff")
    assert not has_cjk("chest pain") and not has_cjk("") and not has_cjk(None)
    assert not has_cjk(HEXAGRAM) and not has_cjk("ひらがな") and not has_cjk("한국어") and not has_cjk("，。")
    assert cjk_count(f"a我b{EXTENSION_A}{COMPATIBILITY}{HEXAGRAM}") == 3


def test_language_detection_counts_the_same_characters():
    assert detect_language("我胸口疼, chest pain since morning") == "zh"
    assert detect_language("I ate 饺子 yesterday and now my stomach hurts badly") == "en"
    assert detect_language(COMPATIBILITY * 6) == "zh"


def test_text_normalisation_uses_the_same_range():
    assert text.CJK is language.CJK and text.CJK_CHAR is language.CJK_CHAR
    assert text.normalize(f"fever{COMPATIBILITY}") == f"fever {text.normalize(COMPATIBILITY)}"


def test_tokenizer_segments_every_ideograph_block_as_chinese():
    assert tokenize(f"headache {EXTENSION_A}") == ["headache", EXTENSION_A]
    assert "头疼" in "".join(tokenize("我头疼"))


def test_no_module_keeps_its_own_cjk_range():
    own = re.compile(r"\\u(3400|4e00|9fff|4dbf|f900|faff)|[一-鿿]-[一-鿿]", re.I)
    offenders = [
        str(path.relative_to(PROJECT_ROOT))
        for folder in ("chatbot", "evals")
        for path in (PROJECT_ROOT / folder).rglob("*.py")
        if path.name != "language.py" and own.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == [], "use chatbot.safety.language (CJK, CJK_CHAR, has_cjk, cjk_count) instead"
