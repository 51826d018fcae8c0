"""The red-flag rulebook: it passes its own checker, covers every required area, and the checker reports bad
rulebooks clearly (each case below is a small temporary rulebook with one deliberate mistake)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from chatbot.safety.language import has_cjk
from chatbot.safety.rulebook import DEFAULT_RULEBOOK_PATH, RulebookError, iter_atoms, load_rulebook
from chatbot.safety.rulebook_check import check_rulebook

# Each required area needs at least one rule whose id starts with the prefix.
REQUIRED_AREAS = {
    "rf.cardiac.chest_pain_plus", "rf.cardiac.crushing_chest_pain", "rf.cardiac.chest_pain",
    "rf.stroke.face_droop", "rf.stroke.arm_weakness", "rf.stroke.speech", "rf.stroke.sudden_confusion",
    "rf.stroke.vision_one_side", "rf.allergy.", "rf.breathing.severe", "rf.breathing.blue_lips",
    "rf.breathing.cant_speak", "rf.breathing.child_working_hard", "rf.breathing.asthma_severe",
    "rf.breathing.choking", "rf.breathing.cough_blood", "rf.mental.suicidal_intent", "rf.mental.self_harm",
    "rf.bleeding.severe", "rf.neuro.thunderclap_headache", "rf.meningitis.rash_glass",
    "rf.meningitis.stiff_neck_fever", "rf.meningitis.photophobia_fever", "rf.sepsis.mottled_skin",
    "rf.sepsis.fever_confusion", "rf.sepsis.no_urine", "rf.sepsis.feel_dying", "rf.child.infant_fever",
    "rf.neuro.seizure_first", "rf.neuro.seizure_long", "rf.neuro.seizure_not_waking", "rf.neuro.unconscious",
    "rf.neuro.not_breathing", "rf.pregnancy.bleeding", "rf.pregnancy.heavy_bleeding", "rf.pregnancy.severe_pain",
    "rf.pregnancy.reduced_movements", "rf.pregnancy.pre_eclampsia", "rf.pregnancy.ectopic", "rf.poison.overdose",
    "rf.poison.paracetamol", "rf.poison.household_chemical", "rf.poison.battery_magnet",
    "rf.poison.carbon_monoxide", "rf.vascular.dvt", "rf.vascular.pe", "rf.urinary.testicular_torsion",
    "rf.gi.vomiting_blood", "rf.gi.black_stool", "rf.gi.sudden_severe_abdominal", "rf.gi.appendicitis",
    "rf.child.dehydration_severe", "rf.child.newborn_jaundice", "rf.metabolic.hypo_severe", "rf.metabolic.dka",
    "rf.injury.burn_serious", "rf.injury.electric_shock", "rf.neuro.head_injury", "rf.environment.heatstroke",
    "rf.environment.hypothermia", "rf.environment.drowning", "rf.environment.snake_bite", "rf.eye.sudden_vision_loss",
    "rf.eye.chemical", "rf.neuro.cauda_equina", "rf.dehydration.adult", "rf.allergy.child_reaction",
    "rf.neuro.confusion_older", "rf.urinary.blood_urine_fever", "rf.urinary.kidney_infection",
}
URGENT_ONLY = {
    "rf.cardiac.chest_pain", "rf.vascular.dvt", "rf.gi.appendicitis", "rf.pregnancy.reduced_movements",
    "rf.dehydration.adult", "rf.neuro.confusion_older", "rf.urinary.kidney_infection", "rf.child.newborn_jaundice",
}


@pytest.fixture(scope="module")
def book():
    return load_rulebook()


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(Path(DEFAULT_RULEBOOK_PATH).read_text(encoding="utf-8"))


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "red_flags.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _mini() -> dict:
    """A one-rule rulebook that passes the checker; each test breaks one thing."""
    return {
        "version": 1,
        "macros": {"PAIN": "(?:pain|hurts?)"},
        "concepts": {"chest_pain": {"en": [r"\bchest %PAIN%"], "zh": ["胸(?:口)?(?:疼|痛)"]}},
        "rules": [{
            "id": "rf.test.chest_pain",
            "level": "urgent",
            "title": {"en": "Chest pain", "zh": "胸痛"},
            "message": {"en": "Get seen today.", "zh": "请今天就医。"},
            "source": "https://www.nhs.uk/conditions/chest-pain/",
            "match": {"all": ["chest_pain"]},
            "examples": {"positive": ["chest pain", "胸口疼"], "negative": ["no chest pain", "没有胸痛"]},
        }],
    }


# ---- the shipped rulebook ------------------------------------------------------------------------------------
def test_shipped_rulebook_passes_its_checker():
    assert check_rulebook() == []


def test_at_least_65_rules_with_unique_ids(book):
    ids = [r.id for r in book.rules]
    assert len(ids) >= 65
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("prefix", sorted(REQUIRED_AREAS))
def test_every_required_area_has_a_rule(book, prefix):
    assert any(r.id.startswith(prefix) for r in book.rules), prefix


def test_urgent_only_rules_are_urgent_and_the_rest_mostly_emergency(book):
    levels = {r.id: r.level for r in book.rules}
    for rule_id in URGENT_ONLY:
        assert levels[rule_id] == "urgent", rule_id
    assert sum(1 for v in levels.values() if v == "emergency") >= 50


def test_crisis_rules_are_the_self_harm_rules(book):
    crisis = {r.id for r in book.rules if r.crisis}
    assert {"rf.mental.suicidal_intent", "rf.mental.suicide_plan", "rf.mental.self_harm"} <= crisis
    assert all(rule_id.startswith("rf.mental.") for rule_id in crisis)


def test_messages_are_bilingual_and_carry_no_phone_numbers(book):
    import re

    for rule in book.rules:
        for text in (rule.message.en, rule.message.zh, rule.title.en, rule.title.zh):
            assert not re.search(r"\b(?:999|911|112|111|120|988)\b|\d{3,}[- ]\d{3,}", text), (rule.id, text)
        assert has_cjk(rule.message.zh), rule.id


def test_every_rule_has_negated_or_lookalike_negatives_in_both_languages(book):

    for rule in book.rules:
        negatives = [e if isinstance(e, str) else " ".join(e) for e in rule.examples.negative]
        assert negatives, rule.id
        assert any(has_cjk(n) for n in negatives), rule.id
        assert any(not has_cjk(n) for n in negatives), rule.id


def test_every_concept_has_patterns_and_is_used(book):
    used = {a for r in book.rules for a in iter_atoms(r) if isinstance(a, str)}
    for name, pset in book.concepts.items():
        assert pset.patterns(), name
        assert name in used, name


# ---- the checker on broken rulebooks ----------------------------------------------------------------------------
def test_mini_rulebook_is_clean(tmp_path):
    assert check_rulebook(_write(tmp_path, _mini())) == []


def test_bad_regex_is_reported(tmp_path):
    data = _mini()
    data["concepts"]["chest_pain"]["en"].append(r"chest (pain")
    problems = check_rulebook(_write(tmp_path, data))
    assert any("bad regex" in p and "chest_pain" in p for p in problems), problems


def test_unknown_macro_is_reported(tmp_path):
    data = _mini()
    data["concepts"]["chest_pain"]["en"].append(r"chest %NOPE%")
    problems = check_rulebook(_write(tmp_path, data))
    assert any("unknown macro %NOPE%" in p for p in problems), problems


def test_pattern_matching_empty_text_is_reported(tmp_path):
    data = _mini()
    data["concepts"]["chest_pain"]["en"].append(r"(?:chest)?")
    problems = check_rulebook(_write(tmp_path, data))
    assert any("matches empty text" in p for p in problems), problems


def test_upper_case_pattern_is_reported(tmp_path):
    data = _mini()
    raw = r"\bChest\S*"  # text is lower-cased: this could never match
    data["concepts"]["chest_pain"]["en"].append(raw)
    problems = check_rulebook(_write(tmp_path, data))
    assert problems == [f"concept chest_pain: pattern {raw!r} has upper-case letters (text is lower-cased)"]


def test_unknown_concept_is_reported(tmp_path):
    data = _mini()
    data["rules"][0]["match"]["all"].append("sweating")
    problems = check_rulebook(_write(tmp_path, data))
    assert any("rf.test.chest_pain: unknown concept 'sweating'" in p for p in problems), problems


def test_unknown_context_atom_is_reported(tmp_path):
    data = _mini()
    data["rules"][0]["match"]["all"].append("ctx:teenager")
    problems = check_rulebook(_write(tmp_path, data))
    assert any("unknown context atom 'ctx:teenager'" in p for p in problems), problems


def test_missing_zh_is_reported(tmp_path):
    data = _mini()
    del data["rules"][0]["message"]["zh"]
    problems = check_rulebook(_write(tmp_path, data))
    assert len(problems) == 1 and "message.zh" in problems[0] and "Field required" in problems[0], problems


def test_missing_zh_positive_example_is_reported(tmp_path):
    data = _mini()
    data["rules"][0]["examples"]["positive"] = ["chest pain"]
    problems = check_rulebook(_write(tmp_path, data))
    assert problems == ["rf.test.chest_pain: no positive example in zh"]


def test_duplicate_rule_id_is_reported(tmp_path):
    data = _mini()
    data["rules"].append(copy.deepcopy(data["rules"][0]))
    problems = check_rulebook(_write(tmp_path, data))
    assert any("rf.test.chest_pain: duplicate rule id" in p for p in problems), problems


def test_duplicate_yaml_key_is_reported(tmp_path):
    path = tmp_path / "red_flags.yaml"
    path.write_text("version: 1\nversion: 2\nrules: []\n", encoding="utf-8")
    problems = check_rulebook(path)
    assert len(problems) == 1 and "duplicate key 'version'" in problems[0]


@pytest.mark.parametrize("url", ["https://example.com/chest-pain", "http://www.nhs.uk/conditions/chest-pain/",
                                 "https://nhs.uk.evil.example/chest-pain"])
def test_non_authoritative_source_is_reported(tmp_path, url):
    data = _mini()
    data["rules"][0]["source"] = url
    problems = check_rulebook(_write(tmp_path, data))
    assert any(url in p and ("authoritative" in p or "https" in p) for p in problems), problems


def test_unknown_key_is_rejected(tmp_path):
    data = _mini()
    data["rules"][0]["severity"] = "high"  # a typo must not silently switch anything off
    problems = check_rulebook(_write(tmp_path, data))
    assert len(problems) == 1 and "severity" in problems[0] and "Extra inputs" in problems[0]


def test_bad_id_and_level_are_rejected(tmp_path):
    data = _mini()
    data["rules"][0]["id"] = "chest-pain"
    data["rules"][0]["level"] = "panic"
    with pytest.raises(RulebookError) as err:
        load_rulebook(_write(tmp_path, data))
    assert "rules.0.id" in str(err.value) and "rules.0.level" in str(err.value)


def test_examples_that_disagree_with_the_rule_are_reported(tmp_path):
    data = _mini()
    data["rules"][0]["examples"]["positive"].append("my tummy hurts")
    data["rules"][0]["examples"]["negative"].append("chest pain since this morning")
    problems = check_rulebook(_write(tmp_path, data))
    assert "rf.test.chest_pain: positive example does not fire: 'my tummy hurts'" in problems
    assert "rf.test.chest_pain: negative example fires: 'chest pain since this morning'" in problems


def test_unused_concept_is_reported(tmp_path):
    data = _mini()
    data["concepts"]["sweating"] = {"en": [r"\bsweat\w*"], "zh": ["出汗"]}
    problems = check_rulebook(_write(tmp_path, data))
    assert problems == ["concept sweating: not used by any rule"]


def test_unreadable_file_is_reported(tmp_path):
    problems = check_rulebook(tmp_path / "missing.yaml")
    assert len(problems) == 1 and "cannot read" in problems[0]


def test_a_crisis_rule_below_emergency_is_reported(tmp_path):
    data = _mini()
    data["rules"][0]["crisis"] = True
    data["rules"][0]["level"] = "urgent"
    problems = check_rulebook(_write(tmp_path, data))
    assert any("crisis rule must have level emergency" in p for p in problems), problems
