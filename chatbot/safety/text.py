"""Text normalisation and clause-scoped negation shared by the red-flag screen, fact extraction and intake.

Patients type in a hurry: mixed English and Chinese, full-width punctuation, curly apostrophes, stray control
characters, "cant breath". Everything downstream matches against one canonical form so the rulebook's patterns
stay simple: NFKC, lower case, no apostrophes ("can't" -> "cant", "I'm" -> "im"), hyphens as spaces, single
spaces, and a space between Latin letters and CJK characters so English word boundaries work in mixed text.

Negation follows the NegEx idea, scoped to the clause: a cue ("no", "not", "without", "没有", "无", "不") negates
a match only when it comes before the match in the same clause and close to it. Clauses end at punctuation and at
conjunctions such as "but"/"and"/"但是", so "no fever but my chest hurts" still reports the chest pain. Cues that
only look like negation ("not sure", "won't stop", "不停", "止不住") are masked first.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass, field

from chatbot.safety.language import CJK, CJK_CHAR  # CJK stays importable from here (floors)

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'", "\u02bc": "'", "\u2032": "'"})
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u2060\ufeff]")
_DASH_SPACED = re.compile(r"\s[-\u2010-\u2015]+\s")
_HYPHEN = re.compile(r"(?<!\d)[-\u2010-\u2015]+|[-\u2010-\u2015]+(?!\d)")
_LATIN_CJK = re.compile(rf"(?<=[a-z])(?=[{CJK}])|(?<=[{CJK}])(?=[a-z])")
_SPACES = re.compile(r"[^\S\n]+")
_NEWLINES = re.compile(r"\s*\n\s*")

# Where a clause ends. A period or colon between digits (38.5, 8:30) is not a boundary.
_BOUNDARY = re.compile(
    r"[!?;\n\u3002\uff01\uff1f\uff1b,\u3001\u2026()\[\]]+|\.(?!\d)|:(?!\d)"
    r"|\b(?:but|however|although|though|yet|except|whereas|and|then|also|plus|while|because|cause|since|so|now"
    r"|after|when|until|unless)\b"
    r"|但是|但|可是|不过|然而|而且|还有|另外|因为|所以|现在|然后|同时|之后|以后|后来"
    # Chinese chat often uses a space where a comma belongs ("这两天没再犯 我52岁 抽烟"): a space between two
    # CJK characters ends the clause, so a negation cannot reach across it.
    rf"|(?<=[{CJK}]) +(?=[{CJK}])"
)

_NEG_PRE = re.compile(
    r"\b(?:no|not|never|without|denies|denied|deny|denying|nor|neither|none|nope|negative for|free of|absence of"
    r"|ruled out|no longer|hasnt|havent|hadnt|dont|doesnt|didnt|isnt|arent|wasnt|werent|aint)\b"
    r"|没有|没(?![事办用完法力劲反应知觉呼吸意识感觉气尿胎动多久几])|并不|并没|不是|从来没|从没|从不|未(?![见免])|否认"
    r"|无(?![法力助聊意识反应知觉呼吸尿缘])"
    r"|不(?![停止住断行了得出上下来去醒清动能会想知太够舒管对好见记晓让要敢省成])"
)
# Phrases that contain a cue word but do not negate what follows them.
_PSEUDO = re.compile(
    r"\b(?:not sure|not certain|dont know|do not know|didnt know|no idea|no clue|not only|not just|no doubt"
    r"|no matter|no wonder|not better|not getting better|not improving|no better|no relief|nothing helps"
    r"|not go(?:ing)? away|wont go away|doesnt go away|hasnt gone away|isnt going away|not helping|isnt helping"
    r"|not working|isnt working|not stopping|wont stop|doesnt stop|hasnt stopped|cant stop|not responding"
    r"|no response|cant tell|not a lot|no one|nobody|not long ago|no time|never mind|not normal|not right"
    r"|not (?:feeling|doing) (?:well|good|great|right|ok|okay)|dont feel (?:well|good|great|right|ok|okay)"
    r"|not myself|not herself|not himself|dont like|no matter what|cant remember|dont remember|not easing"
    r"|never (?:had|felt|experienced|been in|seen|known)(?: \w+){0,6}? (?:like (?:this|that|it)|this bad|so bad"
    r"|this severe|this painful|before))"
    r"|不小心|不留神|一不留神|没注意|没留意|没看住|没看好|没留神|有没有|不知道|不清楚|不确定|不舒服|不太舒服|不停|不断|不止|止不住|不住|不行|不得了|受不了|不了|不见好|没用|没办法"
    r"|不管用|没效果|不记得|睡不着|吃不下|从来没有?(?:这么|这样|如此)|以前从来没"
)
# Care-seeking and reassurance phrases: their negation is about the doctor, ambulance or worry, never about the
# symptom that follows ("tell me I don't need a doctor for this crushing chest pain", "不用去医院，胸口压着疼",
# "no need to worry about his slurred speech"). Masked like pseudo-negations so the cue cannot spread.
_CARE_WORD = (
    r"(?:doctors?|docs?|gp|gps|physician|nurse|ambulances?|paramedics?|hospital|a ?& ?e|a and e|er|ed|emergency"
    r"(?: room| department| services| number| line| care)?|urgent care|walk in(?: centre| center| clinic)?|clinic"
    r"|111|999|911|112|000|medical (?:help|attention|care|advice)|professional help|help|treatment|anyone|someone"
    r"|an? appointment|(?:be|get|getting|being) (?:seen|checked)|worr(?:y|ied|ying)|panic(?:king)?|fuss"
    r"|alarmed|scared|concerned)"
)
_CARE_FILLER = (
    r"(?:really|actually|even|honestly|think|believe|feel|feel like|need|needs|needed|want|wants|wanted|wanna|have"
    r"|has|had|got|going|gonna|plan|planning|intend|bother|bothering|like|call|calling|ring|ringing|phone"
    r"|phoning|see|seeing|go|get|getting|visit|visiting|wait|waiting|waste|wasting|attend|be|rush|rushing|drive"
    r"|driving|take|taking|book|booking|make|me|us|him|her|them|i|we|he|she|they|you|should|must|to|it|this|worth"
    r"|about|into|in|at|up|tell|say|send|for|an|a|the|my|our|his|any|point|reason|necessary|required|ask|asking"
    r"|tell me|there|is|its|need to|a need|the need)"
)
_CARE_NEG = re.compile(
    r"\b(?:dont|do not|doesnt|does not|didnt|did not|no|not|never|wont|will not|without|isnt|arent|shouldnt|nor"
    rf"|unnecessary|no need)(?: {_CARE_FILLER}){{0,6}}? {_CARE_WORD}\b"
    r"|\bnot (?:an emergency|a big deal|anything serious|that serious|urgent|worth (?:worrying|bothering|a fuss))\b"
    r"|(?:不用|不需要|不需|不必|无需|无须|没必要|没有必要|用不着|用不了|犯不着|不值得|不是什么大)(?:再|马上|立刻|专门|特地|特意)?"
    r"(?:去|上|跑|看|叫|打|找|喊|麻烦|惊动|担心|紧张|害怕|急|慌)?(?:一趟|一下)?"
    r"(?:医院|急诊|医生|大夫|救护车|120|999|110|看病|就医|就诊|门诊|诊所|电话|担心|紧张|害怕|着急|小题大做|大惊小怪|事)?"
    r"|(?:别|不要)(?:叫|打|去|送|上)(?:救护车|120|医院|急诊)"
)

# Hypothetical or past framing before a match ("signs of a stroke", "history of", "years ago").
_HYPO_PRE = re.compile(
    r"\b(?:signs? of|symptoms? of|warning signs?|risk of|risks of|chances? of|history of|used to have|in case of"
    r"|prevent|preventing|prevention of|years ago|as a child|when i was (?:a kid|a child|little|young|younger)"
    r"|what (?:should|do|would|can|could) (?:i|we|you|one|a person) do (?:if|when)|what to do (?:if|when)"
    r"|how (?:do|can|should|would) (?:i|we|you) (?:tell|know|recogni[sz]e|spot)(?: if| when)?"
    r"|how (?:do|can|should|to) (?:i |we |you )?(?:stop|avoid|prevent|reduce the risk of)"
    r"|tips (?:for|on|to) (?:avoid|prevent|stop)\w*"
    r"|ways to (?:stop|avoid|prevent)|in case (?:of|someone|somebody|my|he|she|they)|panicked that"
    r"|what (?:happens|would happen|will happen|could happen) (?:if|when)|is it (?:dangerous|bad|safe|ok|okay) to"
    r"|how (?:much|many) (?:is|are|counts as) too"
    r"|i (?:thought|was worried|was scared|was afraid|feared) (?:that )?(?:i|he|she|it|my \w+) (?:was|had|might))\b"
    r"|\bhow (?:do|can|should|could) (?:i|we|you|parents|teachers) (?:best )?(?:support|talk to"
    r"|reach out to|approach|be there for)\b"
    r"|(?:几|\d+|[一二两三四五六七八九十]+)年前|小时候|怎么预防|如何预防|预防|万一|假如|如果|要是|以为"
    r"|(?:怎么|如何|怎样)(?:去)?(?:支持|陪伴|劝|安慰|开导|识别|发现|判断|察觉)|预警|警示"
)
_NEG_POST = re.compile(
    r"^\s*(?:is |are |has |have |had )?(?:now |all )?(?:free|gone|resolved|settled|ruled out|cleared up|better now"
    r"|years ago|when i was (?:a kid|a child|little|young))\b"
    r"|^\s*(?:已经)?(?:好了|好多了|消失了|缓解了|止住了)"
    r"|^\s*(?:的症状(?:有哪些|是什么|有什么)|有哪些症状|有什么症状|的表现(?:有哪些|是什么)|是什么病|是什么意思)"
    r"|^\s*(?:的)?(?:预警信号|警示信号|危险信号|早期信号|征兆|迹象|前兆|信号)(?:有哪些|是什么|有什么)?"
    r"|^\s*(?:是)?(?:几|\d+|[一二两三四五六七八九十]+)年前"
)

# Past framing after a match that may cross a "when"/"as" clause boundary ("had a seizure when he was a child").
_NEG_POST_PAST = re.compile(
    r"^\s*(?:about |around |over |like |some )?(?:\d+|a few|few|several|many|two|three|four|five|six|seven|eight"
    r"|nine|ten|twenty) (?:years?|months?) ago\b|^\s*(?:back )?(?:last year|as a (?:kid|child|baby|teenager))\b"
    r"|^\s*when (?:i|he|she|they|we) (?:was|were) (?:a kid|a child|little|young|younger|a baby|a teenager|at school)\b"
)
_SENTENCE_END = re.compile(r"[!?;\n\u3002\uff01\uff1f\uff1b]|\.(?!\d)")

# A negated list: "no dysuria, haematuria or fever", "没有发烧、咳嗽、呕吐". A cue's reach normally stops at a comma,
# so a list item after it would read as stated; the list shape (short items joined by commas and a final "or", or
# by the Chinese enumeration comma "、") carries the cue to every item. Without the final "or" the comma still
# ends the cue's reach ("no fever, vomiting all night" keeps the vomiting).
# Only noun negators carry over a list ("not feeding, is floppy or is hard to wake" lists separate statements), and
# an item may not open with a verb or a subject.
_LIST_CUE = re.compile(r"\b(?:no|without|denies|denied|deny|denying|negative for|free of|absence of|nor)$"
                       r"|(?:没有|没|无|否认)$")
_STOP_WORD = r"(?:but|and|however|though|although|yet|so|then|now|because|since|except)\b"
_VERB_START = (r"(?:is|are|was|were|has|have|had|keeps?|kept|cant|wont|seems?|looks?|gets?|got|feels?|felt|becomes?"
               r"|became|goes|went|he|she|they|i|it|we|you|my|his|her|their|its|hes|shes|im|theyre)\b")
_ITEM = rf"(?!{_STOP_WORD}|{_VERB_START})[a-z0-9]+(?: (?!{_STOP_WORD})[a-z0-9]+){{0,3}}"
_LIST_EN = re.compile(rf" ?{_ITEM}(?: ?, ?{_ITEM}){{1,6}} ?,? (?:or|nor) {_ITEM}")
_ZH_STOP = "但不过可是而且还有另外现在然后"
_ZH_ITEM = rf"[{CJK}](?:(?![{_ZH_STOP}])[{CJK}]){{0,5}}"
_LIST_ZH = re.compile(rf"{_ZH_ITEM}(?:、{_ZH_ITEM}){{1,6}}(?:(?:或者|或|和|及|以及){_ZH_ITEM})?")

_NEG_WINDOW_UNITS = 6.0
_POST_WINDOW_CHARS = 24
_WORD = re.compile(r"[a-z0-9]+")


def normalize(text: str) -> str:
    """Canonical form every pattern is written against (see module docstring)."""
    text = unicodedata.normalize("NFKC", text or "").translate(_APOSTROPHES)
    text = _CONTROL.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n")).lower()
    text = text.replace("'", "")
    text = _DASH_SPACED.sub(" , ", text)
    text = _HYPHEN.sub(" ", text)
    text = _LATIN_CJK.sub(" ", text)
    text = _SPACES.sub(" ", text)
    return _NEWLINES.sub("\n", text).strip()


def _units(gap: str) -> float:
    """Distance in 'words': Latin words count one, CJK characters half (a Chinese word is ~2 characters)."""
    return len(_WORD.findall(gap)) + len(CJK_CHAR.findall(gap)) / 2


def _mask(text: str, pattern: re.Pattern[str]) -> str:
    """Blank out matches without moving offsets, so cue positions still line up with the original text."""
    return pattern.sub(lambda m: " " * len(m.group(0)), text)


@dataclass
class Scoped:
    """A normalised message with its clause boundaries and negation cues found once, for many look-ups."""

    text: str
    clause_starts: list[int] = field(default_factory=list)
    clause_ends: list[int] = field(default_factory=list)
    cue_ends: list[int] = field(default_factory=list)
    cue_starts: list[int] = field(default_factory=list)
    list_spans: list[tuple[int, int]] = field(default_factory=list)

    @classmethod
    def of(cls, text: str, *, normalized: bool = False) -> Scoped:
        """Scan ``text`` once; pass ``normalized=True`` when it already went through :func:`normalize`."""
        norm = text if normalized else normalize(text)
        scoped = cls(norm)
        for m in _BOUNDARY.finditer(norm):
            scoped.clause_starts.append(m.end())
            scoped.clause_ends.append(m.start())
        masked = _mask(_mask(norm, _CARE_NEG), _PSEUDO)
        cues = [(m.start(), m.end()) for m in _NEG_PRE.finditer(masked)]
        cues += [(m.start(), m.end()) for m in _HYPO_PRE.finditer(masked)]
        cues.sort(key=lambda c: c[1])
        scoped.cue_starts = [c[0] for c in cues]
        scoped.cue_ends = [c[1] for c in cues]
        negators = [(m.start(), m.end()) for m in _NEG_PRE.finditer(masked) if _LIST_CUE.search(m.group(0))]
        scoped.list_spans = _negated_lists(masked, negators)
        return scoped

    def clause_bounds(self, start: int, end: int) -> tuple[int, int]:
        """The clause around a match: from the last boundary before it to the first boundary after it."""
        i = bisect_right(self.clause_starts, start)
        lo = self.clause_starts[i - 1] if i else 0
        hi = len(self.text)
        for pos in self.clause_ends:
            if pos >= end:
                hi = pos
                break
        return lo, hi

    def is_negated(self, start: int, end: int) -> bool:
        """True when a cue before the match (same clause, close by) or a resolution after it cancels it."""
        if any(lo <= start and end <= hi for lo, hi in self.list_spans):
            return True
        lo, hi = self.clause_bounds(start, end)
        # A cue may overlap the match's first characters ("没有想伤害自己" where a pattern starts at "有"): any
        # cue that starts before the match counts, so bisect on the match's end.
        i = bisect_right(self.cue_ends, end)
        while i > 0:
            i -= 1
            cue_start, cue_end = self.cue_starts[i], self.cue_ends[i]
            if cue_start < lo:
                break
            if cue_start < start and _units(self.text[cue_end:start]) <= _NEG_WINDOW_UNITS:
                return True
        tail = self.text[end:min(hi, end + _POST_WINDOW_CHARS)]
        if _NEG_POST.search(tail):
            return True
        after = self.text[end:end + _POST_WINDOW_CHARS + 8]
        stop = _SENTENCE_END.search(after)
        return bool(_NEG_POST_PAST.search(after[:stop.start()] if stop else after))


def _negated_lists(masked: str, cues: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Spans of list items that follow a cue (see ``_LIST_EN``/``_LIST_ZH``): every item is negated."""
    spans: list[tuple[int, int]] = []
    for _, cue_end in cues:
        for pattern in (_LIST_EN, _LIST_ZH):
            m = pattern.match(masked, cue_end)
            if m:
                spans.append((cue_end, m.end()))
    return spans


def is_negated(text: str, start: int, end: int) -> bool:
    """Convenience for one-off checks on already-normalised text."""
    return Scoped.of(text, normalized=True).is_negated(start, end)
