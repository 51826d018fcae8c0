"""Deterministic extraction of the intake facts a nurse asks first: age, sex, pregnancy, duration, severity,
long-term conditions and regular medicines, in English and Chinese.

The red-flag screen needs these as context (fever means something else in a 6-week-old), and intake must not ask
for what the patient already said. Regular expressions, not a model: this runs on every turn in microseconds and
always gives the same answer for the same words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from chatbot.safety.text import Scoped, normalize

Sex = Literal["female", "male"]

# ---- numbers ----------------------------------------------------------------------------------------------------
_EN_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20,
}
_ZH_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
              "九": 9}
_EN_NUM = r"(\d{1,3}(?:\.\d+)?|" + "|".join(sorted(_EN_NUMBERS, key=len, reverse=True)) + r")"
_ZH_NUM = r"(\d{1,3}(?:\.\d+)?|[零〇一二两三四五六七八九十百]+)"
_DAY, _WEEK, _MONTH = 1 / 365.25, 7 / 365.25, 1 / 12
_UNIT_PREFIXES = [("d", _DAY), ("w", _WEEK), ("mo", _MONTH), ("y", 1.0), ("天", _DAY), ("日", _DAY), ("周", _WEEK),
                  ("星期", _WEEK), ("月", _MONTH), ("岁", 1.0)]
_EN_UNIT = r"(days?|weeks?|wks?|months?|mos?|years?|yrs?)"


def zh_number(text: str) -> float | None:
    """Parse Arabic digits or Chinese numerals up to the hundreds ("四十五" -> 45, "十一" -> 11, "两" -> 2)."""
    if not text:
        return None
    if text[0].isdigit():
        return float(text)
    total, current = 0, 0
    for ch in text:
        if ch in _ZH_DIGITS:
            current = _ZH_DIGITS[ch]
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        elif ch == "百":
            total += (current or 1) * 100
            current = 0
        else:
            return None
    return float(total + current)


def en_number(text: str) -> float | None:
    """Parse digits or the number words people use for small counts ("six week old")."""
    if text in _EN_NUMBERS:
        return float(_EN_NUMBERS[text])
    try:
        return float(text)
    except ValueError:
        return None


def _unit_factor(unit: str) -> float:
    """Years per unit, from an English or Chinese unit word ("wks" -> 7/365.25, "月" -> 1/12)."""
    for prefix, factor in _UNIT_PREFIXES:
        if unit.startswith(prefix):
            return factor
    return 1.0


# ---- the facts object -------------------------------------------------------------------------------------------
class PatientFacts(BaseModel):
    """What the conversation has told us about the patient so far. ``None`` means not known yet."""

    age_years: float | None = Field(None, ge=0, le=130)
    sex: Sex | None = None
    pregnant: bool | None = None
    duration: str | None = None
    severity: str | None = None
    conditions: list[str] = Field(default_factory=list)
    medicines: list[str] = Field(default_factory=list)

    def merge(self, other: PatientFacts | None) -> PatientFacts:
        """Combine with newer facts: the newer non-empty value wins, lists are united (order kept)."""
        if other is None:
            return self.model_copy(deep=True)
        data = self.model_dump()
        for name in ("age_years", "sex", "pregnant", "duration", "severity"):
            value = getattr(other, name)
            if value is not None and value != "":
                data[name] = value
        for name in ("conditions", "medicines"):
            data[name] = list(dict.fromkeys([*getattr(self, name), *getattr(other, name)]))
        return PatientFacts(**data)

    def is_empty(self) -> bool:
        """True when nothing at all is known."""
        return self == PatientFacts()


# ---- age ----------------------------------------------------------------------------------------------------------
_DEPENDENT_EN = (r"(?:baby|babies|bub|newborn|infant|toddler|son|daughter|child|kid|little one|boy|girl|grandson"
                 r"|granddaughter|nephew|niece|he|she)")
_DEPENDENT_ZH = r"(?:宝宝|宝贝|孩子|小孩|儿子|女儿|婴儿|新生儿|娃|闺女|孙子|孙女|外孙|外孙女|他|她)"
_ZH_DEP_LEAD = rf"{_DEPENDENT_ZH}(?:现在|今年|才|刚|刚刚|刚满|满|已经|出生|是|有|快|还不到|不到)*\s*"
_SELF_EXCLUDE = (r"(?!\s*(?:weeks?|wks?|days?|months?|mos?|kgs?|kilos?|lbs?|pounds|stone|st\b|%|percent|cm|mm|ft"
                 r"|feet|foot|inches|in\b|hours?|hrs?|minutes?|mins?|times|x\b|th\b|st\b|nd\b|rd\b|/|:|\.\d|ish weeks"
                 r"|years? (?:married|sober|clean|into)))")


@dataclass(frozen=True)
class AgeMention:
    """One age found in text; ``whose`` tells whether it is the writer's or someone they care for."""

    years: float
    whose: Literal["self", "other", "unknown"]
    start: int


_AGE_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # "my 6 week old", "a 3 month old baby", "6 weeks old"
    (re.compile(rf"\b{_EN_NUM}\s*{_EN_UNIT}\s*old\b"), "en_unit_old"),
    # "my baby is 5 weeks old", "my son is 4", "she is 8 months"
    (re.compile(rf"\b{_DEPENDENT_EN}\s+(?:is|was|turned|just turned|turns|s)\s+(?:only |just |almost |nearly |about "
                rf"|now |barely )?{_EN_NUM}\s*(?:{_EN_UNIT})?(?=\s*(?:old\b|$|[,.!?;\n]|and\b|but\b|with\b|who\b))"),
     "en_dependent_is"),
    # "my dad is 80", "my wife is 38": an adult relative's age, in years
    (re.compile(r"\b(?:dad|mum|mom|father|mother|husband|wife|partner|grandma|grandpa|grandmother|grandfather|nan|nana"
                r"|gran|granny|grandad|granddad|aunt|auntie|aunty|uncle|neighbour|neighbor|patient|brother|sister)"
                r"(?:s\s+|\s+(?:is|was|turned|just turned|aged|age)\s+|\s*,\s*|\s*\(\s*)"
                r"(?:only |just |almost |nearly |about |now )?(\d{1,3})\b"
                r"(?!\s*(?:weeks?|wks?|days?|months?|mos?|kgs?|kilos?|lbs?|pounds|stone|%|cm|mm|ft|feet|hours?|mins?"
                r"|minutes|times|x\b|/|:|\.\d))"), "en_family_is"),
    # "34yo", "34 y/o", "34 y.o."
    (re.compile(r"\b(\d{1,3})\s*(?:yo|y/o|y\.o\.?)(?![a-z])"), "en_yo"),
    # "I'm 34", "I am 34 years old"
    (re.compile(rf"\b(?:i am|im|iam)\s+(?:only |just |nearly |almost |about |now )?(\d{{1,3}})\b{_SELF_EXCLUDE}"),
     "en_self"),
    # "aged 34", "age: 34", "age 8 months"
    (re.compile(rf"\b(?:aged?|age:)\s*(\d{{1,3}}(?:\.\d+)?)\s*(?:{_EN_UNIT})?"), "en_aged"),
    # "34M", "34 female"
    (re.compile(r"(?:^|[\s,(])(\d{1,3})\s*,?\s*(?:m|f|male|female)\b(?!\s*(?:ago|in|of))"), "en_sex_age"),
    # Chinese: "45岁", "3岁半", "今年45"
    (re.compile(rf"{_ZH_NUM}\s*(?:周)?岁(半)?"), "zh_sui"),
    (re.compile(rf"今年\s*{_ZH_NUM}(?!\s*(?:年|月|天|号|斤|公斤|次|周))"), "zh_this_year"),
    # "宝宝两个月", "孩子才3周", "出生5天", "两个月大"
    (re.compile(rf"{_ZH_DEP_LEAD}{_ZH_NUM}\s*(?:个)?\s*(半)?\s*(月|周|星期)(?!\s*(?:前|以来|左右|多了))"),
     "zh_dependent"),
    (re.compile(rf"{_ZH_DEP_LEAD}{_ZH_NUM}\s*(天)(?!\s*(?:了|前|以来|左右|多|没|不|都|一直|内|里|后|之))"),
     "zh_dependent"),
    (re.compile(rf"{_ZH_NUM}\s*(?:个)?\s*(半)?\s*(月|周|星期|天)(?:大|的(?:宝宝|孩子|婴儿|小孩|宝贝|女儿|儿子))"),
     "zh_da"),
    (re.compile(rf"出生(?:才|刚|刚刚)?\s*{_ZH_NUM}\s*(?:个)?\s*(半)?\s*(月|周|星期|天)"), "zh_born"),
    # "宝宝半岁", "半个月大": half a year / half a month
    (re.compile(r"(?<![\d一二两三四五六七八九十个])(半)(?:个)?(岁|月)(?:大)?(?!\s*(?:前|以来|左右|多))"), "zh_half"),
]
_NEWBORN = re.compile(r"\bnewborn\b|\bnew born\b|新生儿|刚出生")
_NEWBORN_YEARS = 0.04
_SELF_BEFORE = re.compile(r"(?:\bi am|\bim|\biam|我|本人|今年)\W{0,3}[^,.!?;，。！？]{0,6}$")
_OTHER_BEFORE = re.compile(rf"(?:\bmy|\bour|\bher|\bhis|\bthe|\ba|\b{_DEPENDENT_EN}|{_DEPENDENT_ZH}"
                           r"|爸爸|妈妈|父亲|母亲|爷爷|奶奶|外公|外婆|姥姥|姥爷|老公|老婆|丈夫|妻子|我爸|我妈)\W{0,3}"
                           r"(?:(?:is|was|s|turned|just turned)\s+(?:only\s+|just\s+|almost\s+|nearly\s+)?)?$")
_OTHER_AFTER = re.compile(rf"^\W{{0,3}}(?:old\s+)?(?:{_DEPENDENT_EN}|{_DEPENDENT_ZH}|husband|wife|mum|mom|dad|father"
                          r"|mother|grandma|grandpa|grandmother|grandfather)")


def _age_value(kind: str, m: re.Match[str]) -> float | None:
    """Turn one pattern match into years, or None when the number is not a plausible age."""
    groups = [g for g in m.groups()]
    if kind.startswith("en"):
        number = en_number(groups[0]) if groups[0] else None
        unit = groups[1] if len(groups) > 1 and groups[1] else "year"
        if kind == "en_dependent_is" and not groups[1] and (number is None or number != int(number) or number > 17):
            return None
    else:
        if kind == "zh_half":
            return 0.5 if groups[1] == "岁" else round(0.5 / 12, 3)
        number = zh_number(groups[0])
        if kind == "zh_sui":
            return None if number is None else number + (0.5 if groups[1] else 0.0)
        half = 0.5 if "半" in groups[1:] else 0.0  # "一个半月": one and a half months
        unit = next((g for g in groups[1:] if g and g != "半"), "岁")
        number = None if number is None else number + half
    if number is None:
        return None
    years = number * _unit_factor(unit)
    return round(years, 3) if 0 <= years <= 120 else None


def _whose(text: str, kind: str, m: re.Match[str]) -> Literal["self", "other", "unknown"]:
    """Guess whether an age is the writer's or a dependant's, from the words around it."""
    if kind in {"en_dependent_is", "en_family_is", "zh_dependent", "zh_born", "zh_da", "zh_half"}:
        return "other"
    if kind in {"en_self", "zh_this_year"}:
        return "self"
    before, after = text[max(0, m.start() - 24):m.start()], text[m.end():m.end() + 20]
    near_other = _OTHER_BEFORE.search(before) or _OTHER_AFTER.search(after)
    if near_other and not re.search(r"(?:\bi am|\bim|我)\W*(?:a\W*)?$", before):
        return "other"
    if _SELF_BEFORE.search(before):
        return "self"
    return "unknown"


def extract_ages(text: str, *, normalized: bool = False) -> list[AgeMention]:
    """Every age mentioned in ``text``, in order. The screen checks age rules against all of them."""
    norm = text if normalized else normalize(text)
    found: list[AgeMention] = []
    taken: list[tuple[int, int]] = []
    for pattern, kind in _AGE_PATTERNS:
        for m in pattern.finditer(norm):
            if any(s < m.end() and m.start() < e for s, e in taken):
                continue
            years = _age_value(kind, m)
            if years is None:
                continue
            taken.append((m.start(), m.end()))
            found.append(AgeMention(years, _whose(norm, kind, m), m.start()))
    if not any(a.whose == "other" and a.years < 0.1 for a in found):
        for m in _NEWBORN.finditer(norm):
            found.append(AgeMention(_NEWBORN_YEARS, "other", m.start()))
    return sorted(found, key=lambda a: a.start)


def _pick_age(ages: list[AgeMention]) -> float | None:
    """The patient is usually the one with symptoms: a dependant's age wins over the writer's own."""
    for whose in ("other", "unknown", "self"):
        for age in ages:
            if age.whose == whose:
                return age.years
    return None


# ---- sex and pregnancy --------------------------------------------------------------------------------------------
_SEX_SELF = [
    (re.compile(r"\b(?:i am|im)\s+(?:a\s+)?(?:\d{1,3}\s*(?:years? old|yo|y/o)?\s+)?(?:woman|female|girl|lady|mum|mom"
                r"|mother)\b|\b\d{1,3}\s*(?:yo|y/o|years? old)?\s*(?:f|female|woman)\b|我是(?:个|一名|一个)?女"
                r"|女性?[,，\s]*\d{1,3}\s*岁|\d{1,3}\s*岁(?:的)?女"),
     "female"),
    (re.compile(r"\b(?:i am|im)\s+(?:a\s+)?(?:\d{1,3}\s*(?:years? old|yo|y/o)?\s+)?(?:man|male|guy|boy|dad|father)\b"
                r"|\b\d{1,3}\s*(?:yo|y/o|years? old)?\s*(?:m|male|man|guy)\b(?!\s*(?:ago|in|of))"
                r"|我是(?:个|一名|一个)?男|男性?[,，\s]*\d{1,3}\s*岁"
                r"|\d{1,3}\s*岁(?:的)?男"), "male"),
]
_SEX_OTHER = [
    (re.compile(r"\bmy (?:\w+ ){0,3}?(?:daughter|girl|wife|mum|mom|mother|sister|grandma|grandmother|granddaughter"
                r"|niece)\b|女儿|闺女|孙女|外孙女|老婆|妻子|媳妇|妈妈|母亲"), "female"),
    (re.compile(r"\bmy (?:\w+ ){0,3}?(?:son|boy|husband|dad|father|brother|grandpa|grandfather|grandson|nephew)\b"
                r"|儿子|孙子|外孙(?!女)|老公|丈夫|爸爸|父亲"), "male"),
]
_PREG_NEG = re.compile(
    r"\b(?:not|isnt|arent|never been|no longer|cant be|cannot be|couldnt be)\s+(?:\w+\s+){0,2}pregnant\b"
    r"|pregnancy test\s+(?:was |is |came back |came out )?negative|negative pregnancy test"
    r"|没有?怀孕|没怀上|不是孕妇|不可能怀孕|验孕(?:棒|试纸)?(?:显示|是)?(?:一条杠|阴性)"
)
_PREG_UNSURE = re.compile(
    r"\b(?:might|could|may|maybe|possibly|think i|if|whether|am i|chance|trying to get|trying for|planning"
    r"|want to get|hoping to get|afraid of being|worried im|worried i am|scared im)\s+(?:\w+\s+){0,3}pregnant\b"
    r"|(?:是不是|会不会|可能|怕|担心|有没有|想|备孕|准备).{0,3}怀孕|备孕"
)
_PREG_POS = re.compile(
    r"\b(?:im|i am|she is|shes|currently|wife is|partner is|girlfriend is|daughter is)\s+(?:\w+\s+)?pregnant\b"
    r"|\b\d{1,2}\s*(?:weeks?|wks?|months?)\s+pregnant\b|\bpregnant (?:with|and|woman|lady|here|at|\d)"
    r"|positive pregnancy test|pregnancy test\s+(?:was |is |came back |came out )?positive|\bim expecting\b"
    r"|\bexpecting (?:a baby|twins)\b|\b(?:my|her) pregnancy\b|\bmy bump\b|\bweeks gestation\b|\bmy midwife\b"
    r"|怀孕(?:了|\s*\d+|[一二两三四五六七八九十]+|已经|快|期间|中)|孕\s*(?:\d+|[一二两三四五六七八九十]+)\s*(?:周|个月|月)"
    r"|孕(?:早|中|晚)期|(?:我|她|老婆|媳妇|妻子)(?:现在|已经|正在)?(?:是)?(?:怀孕|怀着|孕妇)|怀着|有了身孕|怀上了"
    r"|验孕(?:棒|试纸)?(?:显示|是)?(?:两条杠|阳性)|^pregnant\b|^怀孕"
)


def _pregnancy(norm: str) -> bool | None:
    """True for a statement of pregnancy, False for an explicit denial, None when unsure or not mentioned."""
    masked = re.sub(_PREG_NEG, lambda m: " " * len(m.group(0)), norm)
    masked = re.sub(_PREG_UNSURE, lambda m: " " * len(m.group(0)), masked)
    if _PREG_POS.search(masked):
        return True
    if _PREG_NEG.search(norm):
        return False
    return None


def _sex(norm: str, age_whose: str | None) -> Sex | None:
    """The writer's stated sex, or a dependant's when the facts are about the dependant."""
    groups = _SEX_OTHER + _SEX_SELF if age_whose == "other" else _SEX_SELF
    for pattern, sex in groups:
        if pattern.search(norm):
            return sex  # type: ignore[return-value]
    return None


# ---- duration and severity -----------------------------------------------------------------------------------------
_DURATION = [
    re.compile(rf"\b(?:for|since|past|last|over|about|almost|nearly)\s+(?:the\s+)?(?:past\s+|last\s+)?((?:{_EN_NUM[1:-1]}"
               r"|a few|few|several|couple of|a couple of|a couple)\s*(?:minutes?|mins?|hours?|hrs?|days?|nights?"
               r"|weeks?|months?|years?))\b"),
    re.compile(rf"\b((?:{_EN_NUM[1:-1]}|a few|few|several|a couple of)\s*(?:minutes?|mins?|hours?|hrs?|days?|nights?"
               r"|weeks?|months?|years?))\s*(?:now|ago|so far|straight|in a row)\b"),
    re.compile(r"\b(since (?:yesterday|last night|this morning|today|tonight|last week|the weekend|monday|tuesday"
               r"|wednesday|thursday|friday|saturday|sunday|christmas|\w+ days? ago))\b"),
    re.compile(r"\b(?:started|began|came on|start(?:ed)? having)\s+((?:yesterday|today|this morning|last night"
               r"|an hour ago|\w+ (?:minutes?|hours?|days?|weeks?) ago))\b"),
    re.compile(r"\b(all day|all night|on and off for \w+ \w+)\b"),
    re.compile(rf"((?:{_ZH_NUM[1:-1]}|几|好几|半)\s*(?:个)?\s*(?:多)?\s*(?:分钟|小时|天|日|周|星期|礼拜|月|年))\s*(?:了|多了|左右|多|以来)"),
    re.compile(r"((?:从|自从)?(?:昨天|昨晚|前天|今天早上|今早|上周|上个月|上星期|早上|刚才)(?:开始|起))"),
    re.compile(rf"(?:已经|持续|有|连续)\s*((?:{_ZH_NUM[1:-1]}|几|好几|半)\s*(?:个)?\s*(?:分钟|小时|天|日|周|星期|月|年))"),
]
_SCORE = [
    re.compile(r"\b(\d{1,2}(?:\.\d)?)\s*(?:/|out of)\s*10\b"),
    re.compile(r"\b(?:pain|severity|score)\s+(?:is\s+|of\s+|at\s+|about\s+|around\s+|like\s+)*(\d{1,2})\b"
               r"(?!\s*(?:days?|hours?|weeks?|mins?|minutes?|years?|%|mg|am|pm))"),
    re.compile(r"(\d{1,2})\s*分(?!钟)"),
    re.compile(rf"{_ZH_NUM}分(?:的)?(?:疼|痛)"),
]
_SEVERITY_WORDS = [
    (re.compile(r"\b(?:severe|excruciating|unbearable|agony|agonising|agonizing|worst|really bad|very bad|terrible"
                r"|awful|killing me|intense)\b|疼得(?:厉害|要命|受不了|不行|要死)|剧痛|剧烈|非常(?:疼|痛)|特别(?:疼|痛)"
                r"|很严重|痛得(?:厉害|要命|受不了|不行|要死)|疼死|痛死"), "severe"),
    (re.compile(r"\b(?:moderate|quite bad|fairly bad|pretty bad)\b|比较(?:疼|痛|严重)|挺(?:疼|痛)"), "moderate"),
    (re.compile(r"\b(?:mild|slight|slightly|a bit|a little|minor|niggle|niggling)\b|有点|轻微|稍微|一点点"), "mild"),
]


def _duration(norm: str) -> str | None:
    """The first 'how long' phrase, as the patient wrote it ("3 days", "since yesterday", "三天")."""
    for pattern in _DURATION:
        m = pattern.search(norm)
        if m:
            return m.group(1).strip()
    return None


def _severity(norm: str) -> str | None:
    """A 0-10 score if given ("8/10"), else a word-level grade (mild/moderate/severe)."""
    for pattern in _SCORE:
        m = pattern.search(norm)
        if m:
            value = zh_number(m.group(1)) if not m.group(1)[0].isdigit() else float(m.group(1))
            if value is not None and 0 <= value <= 10:
                return f"{value:g}/10"
    for pattern, grade in _SEVERITY_WORDS:
        if pattern.search(norm):
            return grade
    return None


# ---- conditions and medicines -------------------------------------------------------------------------------------
_CONDITIONS: dict[str, str] = {
    "diabetes": r"diabetes|diabetic|type [12] diabetes|t[12]dm?|糖尿病",
    "asthma": r"asthma|asthmatic|哮喘",
    "copd": r"copd|emphysema|chronic bronchitis|慢阻肺|慢性阻塞性肺",
    "high blood pressure": r"high blood pressure|hypertension|高血压",
    "heart disease": r"heart disease|heart failure|angina|coronary|heart condition|冠心病|心脏病|心衰|心力衰竭|心绞痛",
    "atrial fibrillation": r"afib|a fib|atrial fibrillation|房颤",
    "epilepsy": r"epilepsy|epileptic|seizure disorder|癫痫|羊癫疯",
    "kidney disease": r"kidney disease|ckd|renal failure|kidney failure|肾病|肾衰|肾功能不全",
    "liver disease": r"cirrhosis|liver disease|肝硬化|肝病",
    "cancer": r"cancer|chemo|chemotherapy|leukaemia|leukemia|lymphoma|癌|化疗|白血病|肿瘤",
    "weakened immune system": r"immunosuppressed|immunocompromised|weak(?:ened)? immune system|transplant"
                              r"|免疫力低下|器官移植",
    "hiv": r"hiv|aids|艾滋病",
    "sickle cell disease": r"sickle cell|镰状细胞",
    "depression": r"depression|抑郁症",
    "anxiety": r"anxiety disorder|anxiety|焦虑症",
    "thyroid disease": r"hypothyroid\w*|hyperthyroid\w*|thyroid problem|underactive thyroid|overactive thyroid"
                       r"|甲亢|甲减",
    "high cholesterol": r"high cholesterol|高血脂|高胆固醇",
    "blood clotting disorder": r"clotting disorder|blood clots?|dvt|deep vein thrombosis|血栓",
}
_MEDICINES: dict[str, str] = {
    "warfarin": r"warfarin|coumadin|华法林",
    "apixaban": r"apixaban|eliquis|阿哌沙班",
    "rivaroxaban": r"rivaroxaban|xarelto|利伐沙班",
    "dabigatran": r"dabigatran|pradaxa|达比加群",
    "clopidogrel": r"clopidogrel|plavix|氯吡格雷|波立维",
    "aspirin": r"aspirin|阿司匹林",
    "heparin": r"heparin|enoxaparin|clexane|肝素",
    "metformin": r"metformin|二甲双胍",
    "insulin": r"insulin|胰岛素",
    "gliclazide": r"gliclazide|格列齐特",
    "ibuprofen": r"ibuprofen|advil|nurofen|motrin|布洛芬|芬必得",
    "paracetamol": r"paracetamol|acetaminophen|tylenol|panadol|对乙酰氨基酚|扑热息痛|泰诺",
    "naproxen": r"naproxen|aleve|萘普生",
    "codeine": r"codeine|可待因",
    "tramadol": r"tramadol|曲马多",
    "morphine": r"morphine|吗啡",
    "oxycodone": r"oxycodone|oxycontin|羟考酮|奥施康定",
    "prednisolone": r"prednisolone|prednisone|steroids?|泼尼松|强的松|激素",
    "methotrexate": r"methotrexate|甲氨蝶呤",
    "lithium": r"lithium|碳酸锂|锂盐",
    "levothyroxine": r"levothyroxine|thyroxine|优甲乐|左甲状腺素",
    "amlodipine": r"amlodipine|氨氯地平",
    "lisinopril": r"lisinopril|赖诺普利",
    "ramipril": r"ramipril|雷米普利",
    "losartan": r"losartan|氯沙坦",
    "atorvastatin": r"atorvastatin|lipitor|阿托伐他汀",
    "simvastatin": r"simvastatin|辛伐他汀",
    "sertraline": r"sertraline|zoloft|舍曲林",
    "fluoxetine": r"fluoxetine|prozac|氟西汀",
    "citalopram": r"(?<!es)citalopram|西酞普兰",
    "escitalopram": r"escitalopram|lexapro|艾司西酞普兰",
    "amitriptyline": r"amitriptyline|阿米替林",
    "omeprazole": r"omeprazole|奥美拉唑",
    "salbutamol": r"salbutamol|albuterol|ventolin|沙丁胺醇|万托林",
    "amoxicillin": r"amoxicillin|amoxycillin|阿莫西林",
    "digoxin": r"digoxin|地高辛",
    "contraceptive pill": r"the pill|birth control|contraceptive pill|避孕药",
    "blood pressure medicine": r"blood pressure (?:tablets|pills|medicine|medication)|降压药",
    "blood thinner": r"blood thinners?|anticoagulants?|抗凝药",
}
_COND_TRIGGER = re.compile(r"(?:\bi have|\bive got|\bive had|\bi got|\bi suffer from|\bsuffering from|\bdiagnosed with"
                           r"|\bhistory of|\bi live with|\bliving with|\bmy|\bknown|\bhas|\bhave|\bwith|\bim|\bi am"
                           r"|我有|患有|有|得了|得过|确诊|诊断|查出|老)[^,.!?;，。！？]{0,24}$")
_MED_TRIGGER = re.compile(r"(?:\btake|\btaking|\btook|\bim on|\bi am on|\bbeen on|\bstarted|\busing|\buse|\bprescribed"
                          r"|\binject|\bon (?:daily|regular)|\b(?:and|also|still|both) on|吃|服用|服|在用|打)"
                          r"[^,.!?;，。！？]{0,20}$")
_MED_QUESTION = re.compile(r"(?:\bcan|\bcould|\bshould|\bmay|\bsafe to|\bok to|\bokay to|\bhow much|\bhow many"
                           r"|\bwhat dose|\bwhich|\bwhether|\bif i|可以|能不能|能|可不可以|该|要不要|多少)"
                           r"[^,.!?;，。！？]{0,40}$")
_COND_RE = {name: re.compile(rf"(?:\b|(?<=[^a-z]))(?:{pat})(?![a-z])") for name, pat in _CONDITIONS.items()}
_MED_RE = {name: re.compile(rf"(?:\b|(?<=[^a-z]))(?:{pat})(?![a-z])") for name, pat in _MEDICINES.items()}
# One pass that says whether any name of a table occurs at all: most messages mention none (long ones stay fast).
_ANY = {
    id(_COND_RE): re.compile(r"(?:\b|(?<=[^a-z]))(?:" + "|".join(_CONDITIONS.values()) + r")(?![a-z])"),
    id(_MED_RE): re.compile(r"(?:\b|(?<=[^a-z]))(?:" + "|".join(_MEDICINES.values()) + r")(?![a-z])"),
}


def _listed(scoped: Scoped, table: dict[str, re.Pattern[str]], trigger: re.Pattern[str],
            question: re.Pattern[str] | None = None) -> list[str]:
    """Names from ``table`` the patient says they have/take: a trigger shortly before, no negation, no question."""
    found: list[str] = []
    text = scoped.text
    any_name = _ANY.get(id(table))
    if any_name is not None and not any_name.search(text):
        return found
    for name, pattern in table.items():
        for m in pattern.finditer(text):
            before = text[max(0, m.start() - 30):m.start()]
            adjectival = m.group(0) in {"diabetic", "asthmatic", "epileptic"}
            if not (trigger.search(before) or adjectival):
                continue
            if question is not None and question.search(text[max(0, m.start() - 50):m.start()]):
                continue
            if scoped.is_negated(m.start(), m.end()):
                continue
            found.append(name)
            break
    return found


def extract_facts(text: str) -> PatientFacts:
    """Facts stated in one message. Deterministic; anything not clearly stated stays ``None``/empty."""
    norm = normalize(text)
    return facts_from_scoped(Scoped.of(norm, normalized=True), extract_ages(norm, normalized=True))


def facts_from_scoped(scoped: Scoped, ages: list[AgeMention]) -> PatientFacts:
    """:func:`extract_facts` for a message the screen has already normalised and scanned (no double work)."""
    norm = scoped.text
    age = _pick_age(ages)
    whose = next((a.whose for a in ages if a.years == age), None)
    pregnant = _pregnancy(norm)
    sex = _sex(norm, whose)
    if pregnant and sex is None:
        sex = "female"
    return PatientFacts(
        age_years=age,
        sex=sex,
        pregnant=pregnant,
        duration=_duration(norm),
        severity=_severity(norm),
        conditions=_listed(scoped, _COND_RE, _COND_TRIGGER),
        medicines=_listed(scoped, _MED_RE, _MED_TRIGGER, _MED_QUESTION),
    )
