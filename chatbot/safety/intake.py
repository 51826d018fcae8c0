"""Intake: does a message describe the patient's own symptoms, and which few questions would a nurse ask next?

Why: the red-flag screen and the answer both depend on facts patients often leave out (a fever means something
else in a 6-week-old; abdominal pain in a woman of child-bearing age needs "could you be pregnant?"). Asking two
or three short questions first gives better triage than guessing, but only when the patient is describing a
problem: an information question ("what is asthma?") gets an answer, not an interview.

Deterministic: regular expressions over :func:`normalize` output, the same answer every time, microseconds per
turn. The question texts, their order and the complaint -> questions table are data in ``texts/intake.yaml`` so
clinicians can edit them without touching code.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from chatbot.safety.facts import PatientFacts, extract_facts
from chatbot.safety.text import Scoped, normalize

TEXTS_PATH = Path(__file__).with_name("texts") / "intake.yaml"
PREGNANCY_AGE = (12.0, 55.0)
CHILD_MAX_YEARS = 16.0

# ---- does the message describe symptoms? ----------------------------------------------------------------------------
_SYMPTOM_EN = re.compile(
    r"\b(?:pain\w*|ach(?:e|es|ing|y)|hurts?|hurting|sore\w*|tender|headaches?|migraines?|fever\w*|temperature"
    r"|high temp|chills|shiver\w*|cough\w*|sneez\w*|runny nose|blocked nose|stuffy nose|congest\w*|a cold|flu"
    r"|rash\w*|spots|hives|itch\w*|lumps?|swelling|swollen|swelled|bruis\w*|bleed\w*|blood|clots|vomit\w*"
    r"|throwing up|threw up|being sick|been sick|sick|nause\w*|queasy|diarrh\w*|the runs|loose stools"
    r"|constipat\w*|dizz\w*|faint\w*|passed out|blacked out|light ?headed|vertigo|tired\w*|fatigue\w*|exhausted"
    r"|wiped out|no energy|breathless\w*|short of breath|out of breath|cant breathe|wheez\w*|palpitations"
    r"|heart (?:is |was |keeps )?(?:racing|pounding|fluttering|skipping)|racing heart|pounding heart|numb\w*"
    r"|tingl\w*|pins and needles|weak\w*|burning|burn(?:ed|t) (?:my|his|her)|stings?|stinging|stinks|smelly"
    r"|discharge|insomnia|cant sleep|anxious|panic\w*|depressed|low mood|hopeless|stressed out|overwhelmed"
    r"|feel(?:ing)? (?:flat|empty|numb|low|down|awful|terrible|rough|rubbish|off|sick|faint|dizzy|weird|strange)"
    r"|cramp\w*|spasms?|stiff\w*|sprain\w*|twisted|injur\w*|did (?:my|his|her) back in|infect\w*|pus|blisters?"
    r"|wounds?|grazed?|cuts? (?:on|in) |cut (?:my|his|her)|cut (?:my|him|her)sel\w*|unwell|ill|poorly"
    r"|off colou?r|floppy|letharg\w*|drowsy|confus\w*|seizures?|fits?|fell|falls|had a fall|spotting"
    r"|missed (?:my|her) period|period is late|ulcers?|toothache|earache|heartburn|indigestion|reflux|bloat\w*"
    r"|acne|eczema|hair loss|snor\w*|uti|cystitis|thrush|verrucas?|warts?|piles|haemorrhoids?|hemorrhoids?|gout"
    r"|flare\w*|flair up|lost (?:my|his|her) (?:voice|appetite|sense of \w+)|wont (?:feed|eat|drink|stop"
    r"|go away|clear|heal)|cant keep (?:anything|food|water|it) down|not (?:eating|drinking|feeding)|cries"
    r"|crying|blurr\w*|double vision|tinnitus|ringing in|jaundice|yellow (?:skin|eyes)|swallow(?:ed|ing)"
    r"|choking|nosebleeds?|cold sores?|sunburn\w*|bitten|stung|shaking|shaky|shakey|tremors?|sweat\w*"
    r"|thirsty|peeing (?:a lot|loads|all the time)|losing weight|lost (?:about )?(?:a|\d+) (?:stone|kg|kilos"
    r"|pounds|lbs)|hot flushes|drooping|dropped on one side|slurred|stuck in (?:my|his|her)|drank some"
    r"|ate some|took too many|overdosed?|cant get it up|erectile|dry (?:eyes?|skin|cough|mouth)|gritty"
    r"|not (?:feeling )?(?:well|right|myself|himself|herself)|diar\w*|spran\w*|soar throat|temp(?:erature|rature)?"
    r"|phlegm|mucus|snot|scald\w*|stitches|stiches|(?:a|deep|bad|nasty) cut|broke (?:my|his|her)|broken|bump"
    r"|scaly|patch(?:es)?|weepy|gunk|floaters|flashes|spins|spinning|cant (?:hear|see|swallow)|barely hear"
    r"|bunged up|swell(?:s| up)|irregular heart\w*|lying awake|awake (?:until|till|all)|on the toilet"
    r"|keep needing to (?:go|wee|pee)|burns when|worr(?:y|ied|ying) (?:about everything|all the time)"
    r"|cant switch off|feeling (?:really |so )?(?:down|low)|cry all the time|dont want to (?:be here|live)"
    r"|want to die|kill (?:my|him|her)self|suicid\w*|self harm\w*|end it all|doesnt know where (?:he|she) is"
    r"|breathing is (?:worse|bad|fast|noisy)|few words out|gone black|tarry|like tar|catch (?:my|his|her) breath"
    r"|went over on|puffed (?:right )?up|cutting (?:my|him|her)sel\w*|naus\w*|food pois\w*|shingles|wetting the bed"
    r"|drinking loads|knackered|glands|curtain (?:came|coming) down|hasnt moved|moving less|feels? (?:really |very "
    r"|so )?hot|sleepy|bit (?:my|his|her|him)|puffy|red and|forgetful|memory (?:is )?(?:getting )?worse)\b"
    # A body part doing something: "my lips swell up", "my poo has gone black", "his breathing is worse".
    r"|\b(?:my|his|her|our) (?:\w+ ){0,2}?(?:head|eyes?|ears?|nose|throat|mouth|lips?|tongue|teeth|tooth|gums?"
    r"|neck|back|chest|heart|stomach|tummy|belly|guts|bowels?|poo|wee|pee|urine|skin|face|arms?|hands?|wrists?"
    r"|fingers?|legs?|knees?|ankles?|foot|feet|toes?|hips?|shoulders?|elbows?|breathing|vision|eyesight|hearing"
    r"|joints?|muscles?|periods?|breasts?|nipples?|testicles?|balls|penis|vagina|bum|bottom|scalp|nails?|moles?"
    r"|voice|balance|memory|mood|appetite|eyelids?)\s+(?:is|are|was|were|has|have|feels?|felt|keeps?|went|gone"
    r"|looks?|seems?|swell\w*|wont|isnt|cant|turned|became|started)\b"
)
_SYMPTOM_ZH = re.compile(
    r"(?:疼|痛|发烧|发热|烧到|低烧|高烧|体温|咳|流鼻涕|流涕|鼻塞|打喷嚏|呕吐|吐了|想吐|吐奶|上吐下泻|催吐|恶心|拉肚子|腹泻"
    r"|拉稀|便秘|头晕|眩晕|晕倒|头昏|晕|痒|疹|红点|出血|流血|便血|尿血|咯血|有血|带血|肿|失眠|睡不着|乏力|没力气|疲劳"
    r"|胸闷|胸口闷|憋|心慌|心悸|喘|气短|气促|呼吸困难|呼吸(?:很快|急促)|喘不上气|抽搐|不舒服|难受|焦虑|抑郁|低落|情绪不好"
    r"|心情不好|想哭|崩溃|尿频|尿急|发炎|感冒|过敏|哭闹|不吃奶|不吃东西|没精神|蔫|嗓子哑|长了|起了|鼓包|肿块|硬块|摸到"
    r"|扭伤|摔了|摔倒|摔了一跤|烧伤|烫伤|咬了|月经不|例假没来|白带|发麻|麻木|无力|看不清|视力模糊|耳鸣|黄疸|抽筋|上火"
    r"|溃疡|长痘|脱发|掉头发|见红|针眼|红屁股|胎动|暴饮暴食|噎住|噎着|卡住|动不了|闭不上|歪了|反酸|烧心|吐|尿不干净|起夜"
    r"|中暑|水痘|虱子|晒伤|水泡|不想活|想死|自杀|吃多了|不退烧|退烧|叫不醒|吞了|误吞|误服|体重掉|眼屎|眼睛红|红肿|伤口|流脓|发红|记性|忘事|勃起|很多药|一把药)(?!药|疫苗)"
)
_PERSON_EN = re.compile(
    r"\b(?:i|im|ive|id|me|my|mine|myself|we|our|us|he|hes|she|shes|his|her|him|baby|son|daughter|child|kid"
    r"|toddler|husband|wife|partner|mum|mom|dad|grandma|grandpa|gran|mate|friend)\b"
)
_PERSON_ZH = re.compile(
    r"我|本人|宝宝|宝贝|孩子|小孩|儿子|女儿|老公|老婆|爱人|妈妈|爸爸|母亲|父亲|爷爷|奶奶|外婆|外公|姥姥|姥爷|婆婆|公公|他|她|娃"
    r"|闺女|婴儿|家人|朋友"
)
# A question about symptoms in general, not a report of them ("how do I know if I'm depressed?").
_HYPOTHETICAL = re.compile(
    r"\b(?:how (?:do|can|would|will|should) (?:i|you|we|one|people) (?:know|tell)|what if|in case|if (?:i|you|he|she"
    r"|they|we|my \w+) (?:ever|get|gets|got|were|was|develop\w*|catch\w*)|if (?:someone|somebody|a person|a child"
    r"|a baby|you|people)|signs? of|symptoms? of|warning signs|risks? of|prevent\w*|avoid\w*|can you (?:get|catch)"
    r"|can (?:i|you) catch|what causes|why do(?:es)? (?:people|you|babies|children|kids)|whether|is it normal for"
    r" (?:people|babies|children|kids)|when (?:should|do|to) (?:i |you |we |parents )?(?:worry|be (?:worried"
    r"|concerned)) about (?:a|an))\b"
    r"|是不是|会不会|如果|假如|万一|怎么知道|怎么判断|怎样判断|如何判断|预防|怎么避免|如何避免|有哪些|的症状|什么症状|为什么会|是什么原因"
)
# Without a person, a symptom is a report unless the message is shaped like a look-up ("headache causes").
_INFO_QUESTION = re.compile(
    r"(?:^|[.!?,;:\n]\s*)(?:what|whats|how|why|which|who|when|where|is|are|does|do|can|could|should|will|would"
    r"|tell me about)\b"
    r"|\b(?:causes|remedies|remedy|treatments?|cures?|meaning|definition|types of|vs|versus|difference|facts"
    r"|statistics|vaccines?|vaccinations?|jabs?|side effects)\b"
    r"|^(?:什么是|为什么|如何|怎样|怎么预防)|是什么|有哪些|什么意思|原因|治疗方法|怎么治|传染吗|疫苗"
)
_SENTENCE = re.compile(r"[^.!?\n。！？]+")
# A relative or the writer in a state no symptom word names ("he seems a bit muddled", "found my mum on the floor",
# "she's saying strange things"): how people describe an acute change in someone else.
_STATE_EN = re.compile(
    r"\b(?:collaps\w*|unresponsive|unconscious|wont wake|cant wake|hard to wake|gasping|breathing|breathe|breath"
    r"|muddled|disorientated|disoriented|delirious|not making sense|talking (?:funny|nonsense|rubbish|gibberish)"
    r"|saying (?:strange|odd|weird) things|acting (?:strange\w*|odd\w*|weird\w*|funny|out of character)"
    r"|not (?:him|her|them)sel(?:f|ves)|(?:seems|looks|went|gone) (?:all )?(?:funny|strange|odd|grey|gray|pale|blue)"
    r"|garbled|slurr\w*|lopsided|droop\w*|jaundiced|yellow|hallucinat\w*|seeing things|hearing voices|fitting"
    r"|convuls\w*|choked|overdose\w*|took (?:a whole|all|\d+) \w*|swallowed|ate (?:a|some|one)|drank|lump)\b"
)
_STATE_ZH = re.compile(
    r"昏迷|叫不醒|倒在|晕过去|不省人事|说胡话|胡言乱语|糊涂|神志不清|认不出|口齿不清|嘴歪|变黄|发黄|吃掉了|吃了"
)
# A story: someone's age, or a time course ("for the last three days", "since yesterday", "最近", "刚才"), told about
# a person. Patients often describe a change in ordinary words; the shape of a report is the better signal.
_AGE = re.compile(
    r"\b\d{1,3}(?:\s?(?:yo|y/o|m|f)|[- ](?:years?|yrs?|months?|weeks?|days?)[- ]old|yr old)\b|\b(?:im|i am|aged|age)"
    r" \d{1,3}\b|\d{1,3}岁|\d{1,2}个月大|孕\d{1,2}周|\d{1,2}周(?:大|的宝宝)"
)
_TIME_COURSE = re.compile(
    r"\b(?:since|for the (?:last|past)|over the (?:last|past)|ago|yesterday|today|tonight|last night|this (?:morning"
    r"|afternoon|evening|week)|suddenly|all of a sudden|lately|recently|for (?:a|\d+|two|three|four|a few|several"
    r"|a couple of|couple of) (?:\w+ )?(?:hours?|days?|weeks?|months?|years?))\b"
    r"|最近|这几天|这两天|今天|今晚|昨天|昨晚|前天|刚才|刚刚|突然|一直|已经|这礼拜|这周|上周|这一两年|\d+天|几天|\d+周|个月"
)


def _symptom_hits(scoped: Scoped) -> bool:
    """True when some symptom word is neither negated ("no fever") nor framed hypothetically ("signs of")."""
    for s in _SENTENCE.finditer(scoped.text):
        sentence = s.group(0)
        for pattern in (_SYMPTOM_EN, _SYMPTOM_ZH):
            for m in pattern.finditer(sentence):
                if scoped.is_negated(s.start() + m.start(), s.start() + m.end()):
                    continue
                if not _HYPOTHETICAL.search(sentence[: m.start()]):
                    return True
    return False


def describes_symptoms(text: str) -> bool:
    """True when ``text`` reports the writer's or a dependant's own symptoms, False for a general question.

    A symptom counts when it is not negated or hypothetical; then a person in the message ("I", "my son", "宝宝")
    makes it a report, and so does a message that is not shaped like a look-up ("chest pain since 6am").
    """
    scoped = Scoped.of(text)
    norm = scoped.text
    person = bool(_PERSON_EN.search(norm) or _PERSON_ZH.search(norm))
    if not _symptom_hits(scoped):
        return _tells_a_story(scoped, person)
    if person:
        return True
    return not _INFO_QUESTION.search(norm)


def _tells_a_story(scoped: Scoped, person: bool) -> bool:
    """No symptom word, but shaped like a report: a person (or an age) with a time course or a changed state, and
    not opening as a question about things in general. Relatives rarely use symptom words ("he seems muddled")."""
    norm = scoped.text
    if _HYPOTHETICAL.search(norm) or _INFO_QUESTION.match(norm):
        return False
    aged = bool(_AGE.search(norm))
    state = [m for p in (_STATE_EN, _STATE_ZH) for m in p.finditer(norm) if not scoped.is_negated(m.start(), m.end())]
    return (person or aged) and (bool(state) or (aged and person) or bool(_TIME_COURSE.search(norm)))


# ---- the question table -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Question:
    """One follow-up question: its texts per audience and language, and what already answers it."""

    id: str
    group: str
    texts: dict[str, dict[str, str]]
    skip_if: tuple[re.Pattern[str], ...] = ()

    def text(self, audience: str, lang: str, who: str) -> str:
        """The wording for ``audience`` (self/other/child), falling back child -> other -> self."""
        chain = {"child": ("child", "other", "self"), "other": ("other", "self"), "self": ("self",)}[audience]
        variant = next((self.texts[a] for a in chain if a in self.texts), self.texts["self"])
        return variant.get(lang, variant["en"]).format(who=who)

    def answered(self, norm: str) -> bool:
        return any(p.search(norm) for p in self.skip_if)


@dataclass(frozen=True)
class Complaint:
    id: str
    patterns: tuple[re.Pattern[str], ...]
    questions: tuple[Question, ...]
    pregnancy: bool = False
    child: bool = False
    generic: bool = False


@dataclass(frozen=True)
class PatientRole:
    id: str
    patterns: tuple[re.Pattern[str], ...]
    who: dict[str, str]
    child: bool = False
    sex: str | None = None


@dataclass(frozen=True)
class IntakeTable:
    order: tuple[str, ...]
    core: dict[str, Question]
    known: dict[str, tuple[re.Pattern[str], ...]]
    roles: tuple[PatientRole, ...]
    complaints: tuple[Complaint, ...]


def _patterns(spec: dict[str, list[str]] | None) -> tuple[re.Pattern[str], ...]:
    spec = spec or {}
    return tuple(re.compile(p) for lang in ("en", "zh") for p in spec.get(lang, []))


def _texts(raw: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Normalise {en, zh} or {self: {en, zh}, other: ..., child: ...} to the audience form."""
    if "en" in raw:
        return {"self": raw}
    return raw


def _question(raw: dict[str, Any], group: str) -> Question:
    return Question(raw["id"], raw.get("group", group), _texts(raw["text"]), _patterns(raw.get("skip_if")))


def _complaint(raw: dict[str, Any]) -> Complaint:
    groups = ["key_symptom"] + ["more_symptoms"] * (len(raw["questions"]) - 1)
    questions = tuple(_question(q, g) for q, g in zip(raw["questions"], groups))
    return Complaint(raw["id"], _patterns(raw.get("match")), questions, raw.get("pregnancy", False),
                     raw.get("child", False), raw.get("generic", False))


@lru_cache(maxsize=4)
def load_intake_table(path: Path = TEXTS_PATH) -> IntakeTable:
    """Read and compile ``texts/intake.yaml`` once; a bad pattern fails at import of the first turn, loudly."""
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    core = {name: Question(name, name, _texts(raw)) for name, raw in data["core"].items()}
    roles = tuple(
        PatientRole(r["id"], _patterns(r["match"]), r["who"], r.get("child", False), r.get("sex"))
        for r in data["patients"]
    )
    known = {name: _patterns(spec) for name, spec in data["known"].items()}
    complaints = tuple(_complaint(c) for c in data["complaints"])
    return IntakeTable(tuple(data["order"]), core, known, roles, complaints)


# ---- choosing the questions ----------------------------------------------------------------------------------------
@dataclass
class _Context:
    """Everything the choice depends on, worked out once per call."""

    facts: PatientFacts
    norm: str
    scoped: Scoped
    role: PatientRole | None
    lang: str

    @property
    def audience(self) -> str:
        if self.role is None:
            return "self"
        age = self.facts.age_years
        return "child" if self.role.child and (age is None or age < CHILD_MAX_YEARS) else "other"

    @property
    def who(self) -> str:
        return self.role.who.get(self.lang, self.role.who["en"]) if self.role else ""


def _find_role(table: IntakeTable, norm: str) -> PatientRole | None:
    """The person the conversation is about when it is not the writer: the earliest mention wins."""
    best: tuple[int, PatientRole] | None = None
    for role in table.roles:
        for pattern in role.patterns:
            m = pattern.search(norm)
            if m and (best is None or m.start() < best[0]):
                best = (m.start(), role)
    return best[1] if best else None


def _complaints(table: IntakeTable, ctx: _Context) -> list[Complaint]:
    """Complaints the conversation mentions (not negated), the main one first: site complaints before generic ones
    (a fever with belly pain is a belly-pain question), then by first mention; the child block last."""
    found: list[tuple[bool, int, Complaint]] = []
    child = []
    for complaint in table.complaints:
        if complaint.child:
            if ctx.audience == "child":
                child.append(complaint)
            continue
        starts = [m.start() for p in complaint.patterns for m in p.finditer(ctx.norm)
                  if not ctx.scoped.is_negated(m.start(), m.end())]
        if starts:
            found.append((complaint.generic, min(starts), complaint))
    return [c for *_, c in sorted(found, key=lambda f: (f[0], f[1]))] + child


def _known(table: IntakeTable, name: str, norm: str) -> bool:
    return any(p.search(norm) for p in table.known.get(name, ()))


def _is_female(table: IntakeTable, ctx: _Context) -> bool:
    if ctx.role is not None and ctx.role.sex:
        return ctx.role.sex == "female"
    return ctx.facts.sex == "female" or _known(table, "female", ctx.norm)


def _pregnancy_relevant(table: IntakeTable, ctx: _Context, complaints: list[Complaint]) -> bool:
    """Female, 12-55 (unknown age counts only for the writer herself), and a complaint or medicine question where
    pregnancy changes the advice (ectopic pregnancy, miscarriage, which medicines are safe)."""
    if ctx.facts.pregnant is not None or not _is_female(table, ctx):
        return False
    age = ctx.facts.age_years
    if age is None and ctx.role is not None:
        return False
    if age is not None and not PREGNANCY_AGE[0] <= age <= PREGNANCY_AGE[1]:
        return False
    return any(c.pregnancy for c in complaints) or _known(table, "medicine_question", ctx.norm)


def _core_candidates(table: IntakeTable, ctx: _Context, complaints: list[Complaint]) -> list[Question]:
    """Core questions whose answer is neither in the facts nor in the words of the conversation."""
    facts, out = ctx.facts, []
    if facts.age_years is None:
        out.append(table.core["age"])
    if _pregnancy_relevant(table, ctx, complaints):
        out.append(table.core["pregnancy"])
    if not facts.duration and not _known(table, "duration", ctx.norm):
        out.append(table.core["duration"])
    if not facts.severity and not _known(table, "severity", ctx.norm):
        out.append(table.core["severity"])
    if not facts.conditions and not facts.medicines and not _known(table, "history", ctx.norm):
        out.append(table.core["history"])
    return out


def _ranked(table: IntakeTable, ctx: _Context) -> list[Question]:
    """Every missing question, most important first by the group order in the YAML, duplicates dropped."""
    complaints = _complaints(table, ctx)
    candidates = _core_candidates(table, ctx, complaints)
    asked = [q for c in complaints for q in c.questions if not q.answered(ctx.norm)]
    # The main complaint's first open question is the key one, whatever its place in its own list.
    key = next((q for q in asked if q in complaints[0].questions), None) if complaints else None
    candidates += asked
    rank = {group: i for i, group in enumerate(table.order)}

    def group(question: Question) -> str:
        if question.group not in ("key_symptom", "more_symptoms"):
            return question.group  # safety, child ...: their own rank
        return "key_symptom" if question is key else "more_symptoms"

    ordered = sorted(enumerate(candidates), key=lambda iq: (rank.get(group(iq[1]), len(rank)), iq[0]))
    seen: set[str] = set()
    unique = []
    for _, question in ordered:
        if question.id not in seen:
            seen.add(question.id)
            unique.append(question)
    return unique


def _context(facts: PatientFacts, messages: Sequence[str], lang: str, table: IntakeTable,
             facts_complete: bool) -> _Context:
    """Facts from the messages themselves, overridden by the session's facts (which may hold later corrections).
    ``facts_complete``: the caller's facts were already read from these messages, so they are not read again."""
    derived = PatientFacts()
    if not facts_complete:
        for message in messages:
            derived = derived.merge(extract_facts(message))
    norm = normalize("\n".join(messages))
    return _Context(derived.merge(facts), norm, Scoped.of(norm, normalized=True), _find_role(table, norm),
                    "zh" if lang == "zh" else "en")


def intake_questions(
    facts: PatientFacts, messages: Sequence[str], lang: str, max_questions: int = 3, *,
    reports_symptoms: bool | None = None, facts_complete: bool = False,
) -> list[str]:
    """Up to ``max_questions`` short follow-up questions in ``lang``, most important first; [] when the last message
    is not a symptom report or nothing important is missing (long-term conditions alone never warrant a round).

    A turn that has already read its messages passes what it found: ``reports_symptoms`` (does the last message
    report symptoms) and ``facts_complete`` (``facts`` were read from every message), so nothing is read twice."""
    if max_questions <= 0 or not messages:
        return []
    if reports_symptoms is None:
        reports_symptoms = describes_symptoms(messages[-1])
    if not reports_symptoms:
        return []
    table = load_intake_table()
    ctx = _context(facts, messages, lang, table, facts_complete)
    chosen = _ranked(table, ctx)[:max_questions]
    if all(q.group == "history" for q in chosen):
        return []
    return [q.text(ctx.audience, ctx.lang, ctx.who) for q in chosen]
