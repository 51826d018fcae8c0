"""Requests the assistant declines, kindly, before any model work: prescribing, dosing beyond the label,
certain diagnoses, self-harm methods, prompt injection and clearly non-health requests.

Why rules and not the model: a small local model can be talked into prescribing or giving a lethal dose, and a
refusal must be the same every time for the same words. The patterns run over :func:`normalize` output (lower
case, no apostrophes: "cant", "whats"), in English and Chinese whatever the reply language, because patients mix
languages. They are deliberately narrow: an information question ("do I need antibiotics for a cold?", "can I
take paracetamol and ibuprofen together?") is in scope and must reach the knowledge base, so every pattern needs
a request *to the assistant* (prescribe me, give me, how much should I take) rather than a topic word.

This module only decides the *kind* of a request (:func:`classify`); what the patient reads, in their language and
with their locale's numbers, is :mod:`chatbot.safety.refusals`, and retrieved documents are cleaned by
:mod:`chatbot.safety.context_sanitizer`. It is longer than our usual 400 lines because almost all of it is one
table: the vocabulary and the patterns per kind, which are read and reviewed side by side (a change to one kind's
pattern is judged against its neighbours' and against ``_HEALTH``); splitting the table would only scatter it.
"""

from __future__ import annotations

import re

from chatbot.safety.text import normalize

KINDS = ("self_harm_method", "injection", "other_users", "privacy_question", "prescription", "dosing", "diagnosis",
         "out_of_scope")  # precedence order

# ---- vocabulary -------------------------------------------------------------------------------------------------
# Prescription-only medicines (in the UK/US/China), by the names patients use. Dosing questions about these go to
# the prescriber; requests for them are prescription requests.
_RX_EN = (
    r"(?<![a-z])(?:antibiotics?|amoxicillin|amoxycillin|augmentin|co amoxiclav|penicillin|flucloxacillin|azithromycin"
    r"|z pack|clarithromycin|erythromycin|doxycycline|ciprofloxacin|cipro|levofloxacin|nitrofurantoin|macrobid"
    r"|trimethoprim|cephalexin|cefalexin|keflex|metronidazole|flagyl|clindamycin|xanax|alprazolam|valium"
    r"|diazepam|lorazepam|ativan|clonazepam|klonopin|temazepam|benzos?|benzodiazepines?|zolpidem|ambien"
    r"|zopiclone|sleeping (?:pills?|tablets?|meds)|oxycodone|oxycontin|oxy|percocet|vicodin|hydrocodone"
    r"|morphine|fentanyl|codeine|co codamol|tramadol|dihydrocodeine|methadone|buprenorphine|suboxone|opioids?"
    r"|opiates?|adderall|ritalin|methylphenidate|vyvanse|modafinil|ozempic|wegovy|semaglutide|mounjaro"
    r"|zepbound|tirzepatide|saxenda|liraglutide|phentermine|viagra|sildenafil|cialis|tadalafil|accutane"
    r"|roaccutane|isotretinoin|prednisolone|prednisone|steroids?|dexamethasone|sertraline|zoloft|fluoxetine"
    r"|prozac|(?:es)?citalopram|lexapro|paroxetine|venlafaxine|mirtazapine|amitriptyline|antidepressants?"
    r"|gabapentin|pregabalin|lyrica|insulin|metformin|statins?|atorvastatin|warfarin|propranolol"
    r"|beta blockers?|blood pressure (?:tablets?|pills?|meds|medication|medicine)|tamiflu|oseltamivir"
    r"|valacyclovir|valtrex|paxlovid|ivermectin|hydroxychloroquine|finasteride|ketamine|lithium|quetiapine"
    r"|seroquel|olanzapine|risperidone|levothyroxine|thyroxine|epipens?|inhalers?|ventolin|salbutamol"
    r"|albuterol|the pill|birth control(?: pills?)?|contraceptive pills?|strong painkillers?"
    r"|stronger painkillers?|(?:some|any)thing stronger|prescription (?:meds|medicines?|medications?|drugs?))(?![a-z])"
)
_RX_ZH_ALT = (
    r"抗生素|消炎药|阿莫西林|头孢\w{0,3}|青霉素|阿奇霉素|左氧氟沙星|甲硝唑|安眠药|安定|地西泮|阿普唑仑"
    r"|艾司唑仑|氯硝西泮|佐匹克隆|唑吡坦|曲马多|吗啡|羟考酮|芬太尼|可待因|杜冷丁|舍曲林|氟西汀|帕罗西汀"
    r"|艾司西酞普兰|西酞普兰|文拉法辛|米氮平|抗抑郁药|激素|泼尼松|强的松|地塞米松|胰岛素|二甲双胍|司美格鲁肽"
    r"|减肥针|伟哥|万艾可|西地那非|他达拉非|奥司他韦|达菲|利他林|哌甲酯|降压药|他汀|华法林|加巴喷丁|普瑞巴林"
    r"|异维a酸|处方药"
)
_RX_ZH = f"(?:{_RX_ZH_ALT})"
_CERTAIN = (
    r"(?<!\w)(?:100 ?%|100 percent|(?:one )?hundred percent|for sure|for certain|definitely|certainly|absolutely"
    r"|guaranteed?|without (?:a )?doubt)(?!\w)"
)
_NUM_EN = r"(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|a few|several|a couple of)"
_DOSE_UNIT = r"(?:mg|milligrams?|mcg|micrograms?|ml|units?|pills?|tablets?|tabs|capsules?|caps|doses?)"
# Someone other than the patient as the subject ("will the doctor prescribe me") makes it an information question.
_NOT_ASKED_BEFORE = r"(?<!\bdo )(?<!\bdoes )(?<!\bwould )(?<!\bwill )(?<!\bshould )(?<!\bif )(?<!\bwhether )"


def _compile(*patterns: str) -> list[re.Pattern[str]]:
    return [re.compile(p) for p in patterns]


# Someone else's words earlier in the clause ("医生说可以给我开点药吗": the doctor said...) make a match a report.
_REPORTED = re.compile(r"(?:医生|大夫|他|她|药师)(?:说|会|要|讲)|\b(?:doctor|gp|he|she|they) (?:said|says|told)\b")
_CLAUSE_START = re.compile(r".*[。？！?!,，.;\n]", re.DOTALL)


def _hit(pattern: re.Pattern[str], norm: str) -> bool:
    """A match that is not reported speech within its clause (checked here, not in the regex, to stay linear)."""
    for m in pattern.finditer(norm):
        before = norm[max(0, m.start() - 40) : m.start()]
        boundary = _CLAUSE_START.match(before)
        if not _REPORTED.search(before[boundary.end() :] if boundary else before):
            return True
    return False


# ---- patterns per kind -------------------------------------------------------------------------------------------
_SELF_HARM = _compile(
    # "how many pills would kill me", "how much insulin does it take to die", "how many tablets to end it all"
    r"\bhow (?:many|much)\b[^.?!\n]{0,50}?\b(?:would|will|could|to|does it take to|do i need to|is enough to"
    r"|it takes to|needed to|till i|until i|before i)\s+(?:kill (?:me|myself|yourself|someone|a person|you)|die"
    r"|end (?:it|it all|my life|things)|not wake up|never wake up|od\b|overdose)",
    r"\b(?:lethal|fatal|deadly|toxic|killing) (?:dose|amount|quantity|number)",
    r"\bhow much [^.?!\n]{0,40}\b(?:is|would be) (?:lethal|fatal|deadly)\b",
    r"\b(?:painless|quick|quickest|fast|fastest|easy|easiest|best|surest|peaceful|effective|most effective|simple"
    r"|certain) (?:way|ways|method|methods|means) (?:to|of) (?:die\b|dying|kill(?:ing)? (?:my|your|him|her|them)sel"
    r"|kill(?:ing)? me\b|end(?:ing)? (?:it|my life|things)\b|suicide|commit(?:ting)? suicide|overdos|hang(?:ing)? "
    r"(?:my|your)sel|od\b)",
    r"\b(?:way|ways|method|methods)\b[^.?!\n]{0,20}\b(?:to|of) (?:kill(?:ing)? (?:my|your|him|her|them)sel(?:f|ves)"
    r"|end(?:ing)? (?:my|your) life|commit(?:ting)? suicide|suicide)",
    r"\b(?:suicide|self harm) (?:methods?|techniques?|ideas|tips)\b|\bmost effective (?:suicide|way to die)\b",
    r"\bhow (?:can|could|do|should|would|to|might)\s*(?:i|someone|one|you|a person|people)?\s*(?:kill|hang|poison"
    r"|hurt|harm|cut|drown|starve|suffocate|shoot|overdose)\s*(?:my|your|them|him|her|one)sel(?:f|ves)",
    r"\bhow (?:to|do i|can i|could i|do you|do people|would i|should i) (?:commit suicide|end (?:my|your|their|it)"
    r"(?: life| all)?\b|die painlessly|die quickly|overdose\b|od\b)",
    r"\b(?:which|what) (?:pills?|tablets?|drugs?|meds|medicines?|medications?|poisons?|chemicals?)\b[^.?!\n]{0,30}"
    r"\b(?:overdose on|od on|kill (?:me|myself|you|someone|a person)|to die|end it)",
    r"\bwhat (?:can|could|should) i (?:overdose|od) on\b",
    r"\b(?:how deep|where) (?:should i|do i|to|can i|do i need to|would i need to|do you"
    r"|does it need to) (?:need to )?cut\b"
    r"(?! (?:the|a|an|into|onion|wood|tomato\w*|vegetables|meat|bread|dough|hair|cake|fabric|paper"
    r"|tiles?)\b)|\bbleed out\b",
    # "least painful way to overdose", "most painless way to go", "would 30 paracetamol be enough to kill me"
    r"\b(?:least|most|less|more) (?:painful|painless|peaceful|reliable|effective|certain|quick|lethal"
    r"|gentle) (?:way|method"
    r"|means|ways|methods) (?:to|of|for) (?:die\b|dying\b(?! (?:my |your |her |his )?(?:hair|fabric"
    r"|clothes))|go(?:ing)?\b"
    r"(?! (?:to|for|back|out|home|about|through|from|into|abroad|on|up|down|over)\b)|overdose|od\b|kill (?:my|your|one"
    r"|him|her|them)sel|end (?:it|my life|things|it all)\b|hang (?:my|your)sel|drown (?:my|your)sel"
    r"|bleed (?:out|to death)"
    r"|jump\b(?! (?:start|higher|further|rope|on|over|in)\b)|commit suicide|suicide|not wake)",
    r"\b(?:painless|quickest|easiest|fastest|quick|easy|best|surest|peaceful|simplest|gentlest"
    r"|most reliable) (?:way|method"
    r"|ways|methods|means) (?:to|of) (?:overdose|od\b|go\b(?! (?:to|for|back|out|home|about|through|from"
    r"|into|abroad|on|up"
    r"|down|over)\b)|not wake up|fall asleep forever|bleed out)",
    r"\bhow (?:many|much)\b[^.?!\n]{0,40}?\b(?:pills|tablets|paracetamol|acetaminophen|tylenol|panadol"
    r"|sleeping (?:pills"
    r"|tablets)|insulin|painkillers|antidepressants|meds|capsules)\b[^.?!\n]{0,20}?\b(?:would|will|does|do|could) (?:it"
    r"|i|you|one|someone|a person) (?:take|need)\b(?! to (?:work|kick in|help|get rid|feel|clear|reduce|bring down|stop"
    r" (?:the|my) (?:pain|headache)|treat|cure|fix|calm|sleep|fall asleep|see|notice|make a difference|lower))",
    r"\bwhat (?:dose|amount|quantity|number|level) (?:of )?[^.?!\n]{0,30}?\b(?:would|will|could|is|does it take to|to"
    r"|might|can) (?:kill|be (?:fatal|lethal|deadly)|fatal|lethal|deadly|die|end it|stop (?:a|my|your|the) heart|od\b"
    r"|overdose)",
    r"\b(?:would|will|could|is|are) [^.?!\n]{0,40}?\b(?:enough to kill me|kill me|be fatal for me|finish me off"
    r"|enough to die)\b",
    r"\b(?:which|what) (?:bridge|building|floor|storey|story|height|cliff|tower|car park|multi storey|balcony)\b"
    r"[^.?!\n]{0,40}?\b(?:high enough|tall enough|enough to (?:die|kill)|to (?:die|jump from|jump off)|would kill"
    r"|kill (?:me|you|someone)|fatal)\b|\bhow (?:high|tall|many (?:floors|storeys|stories))\b[^.?!\n]{0,40}?\b"
    r"(?:to (?:die|kill|not survive|be fatal)|would kill|kill (?:me|you|someone)|is fatal|be fatal|enough to die)\b",
    r"\bhow (?:would|could|do|does|can|might|should|to) (?:i |you |one |someone |somebody |a person "
    r"|people |my character "
    r"|the character |a character |he |she |they )?(?:overdose|od|kill (?:my|your|him|her|them|one)sel(?:f|ves)"
    r"|end (?:my|your|his|her|their) (?:own )?life|hang (?:my|your|him|her|them)sel(?:f|ves))\b"
    r"(?! (?:by accident|accidentally|on (?:vitamins|water|caffeine|sugar|carrots)))",
    r"\b(?:does|would|will|is) (?:it )?(?:hurt|painful) (?:to )?(?:die|drown|hang|bleed out|overdose|od|jump)\b"
    r"|\b(?:does|would|will) (?:overdosing|an overdose|drowning|hanging|bleeding out|jumping)\b (?:\w+ )?(?:hurt"
    r"|be painful)\b",
    r"\bhow high (?:do i|would i|should i|to) (?:need to )?jump\b",
    # Chinese
    r"(?:怎么|怎样|如何|怎么样|用什么方法|有什么办法|什么方法)(?:才能|可以|能)?(?:自杀|自尽|轻生|自残|割腕|上吊|跳楼"
    r"|结束(?:自己的)?(?:生命|一切)|死(?:掉|得)?(?![的了]))",
    r"(?<!预防)(?<!防止)(?<!避免)(?<!干预)(?:自杀|自残|割腕|上吊|烧炭)(?:的)?(?:方法|方式|办法|技巧)",
    r"(?:不痛|无痛|没有痛苦|不痛苦|最快|快速|安静|舒服)(?:的|地)?(?:死法|死掉|自杀|去死|死去|结束生命|离开这个世界)",
    r"(?:自杀|死)(?:不痛|最快|最容易)",
    r"吃多少[^。？！?!,，]{0,10}(?:会|能|就|才|可以)(?:死|致死|没命)",
    r"多少[^。？！?!,，]{0,8}(?:致死|致命|会死|能死|死人)",
    r"致死(?:剂)?量|致命(?:剂)?量|致死剂量|致命剂量",
    r"(?:割腕|割)(?:多深|哪里)|跳(?:几楼|多高)|几楼(?:跳下去)?(?:会|能|才能)死",
    r"(?:几楼|多高|多少层|哪座桥|哪个桥|哪栋楼|哪个楼|几层楼)[^。？！?!,，]{0,10}(?:会|能|才能|就能|一定|必|肯定)[^。？！?!,，]{0,2}"
    r"(?:死|摔死|没命|致命)|(?:什么|哪种|哪些)药[^。？！?!,，]{0,6}(?:能|会|可以)[^。？！?!,，]{0,4}(?:死|致死|一睡不醒|让人睡过去)",
    r"(?:怎么|怎样|如何|用什么|哪种)(?:方式|方法|办法)?(?:才能)?(?:自杀|了结自己|死|去死|结束生命)[^。？！?!,，]{0,2}"
    r"(?:最|才|会|比较|更|能)?(?:不痛|不疼|不痛苦|快|简单|没有痛苦|舒服|不难受)|(?:哪种|什么|哪个)死法",
    r"(?:吃|吞|喝|打)(?:多少|几)[^。？！?!,，]{0,8}(?:会|能|就会|才会|可以|才能)[^。？！?!,，]{0,2}(?:死|致死|没命|醒不过来|一睡不醒)",
    r"(?:上吊|割腕|跳楼|烧炭|溺水|服毒)[^。？！?!,，]{0,3}(?:疼不疼|痛不痛|痛苦吗|难受吗|会不会很痛)",
)
_INJECTION = _compile(
    r"\b(?:ignore|disregard|forget|override|bypass|skip|drop|abandon)\s+(?:all\s+|any\s+|the\s+|of\s+|every\s+)*"
    r"(?:previous|prior|above|earlier|preceding|original|initial|your|these|those|system|safety|developer|all"
    r"|existing)\s+(?:\w+\s+){0,2}?(?:instructions?|rules?|prompts?|directions?|directives?|guidelines?"
    r"|constraints?|restrictions?|programming|guardrails?|polic(?:y|ies)|messages?|context|filters?|settings)\b",
    r"\b(?:ignore|forget|disregard) (?:everything|all) (?:above|before|you were told|previous|prior)\b",
    r"\b(?:ignore|disregard|forget|override|bypass|break) (?:the|all the|any|all) (?:rules|restrictions|guardrails"
    r"|guidelines|filters|safety rules)\b(?! (?:on|of|for|in|about) )",
    r"\byou are now\b(?! (?:talking|speaking|chatting))|\byoure now (?:a|an|my|dan)\b|\bnow you are (?:a|an|dan)\b",
    r"\bdan\b[^.?!\n]{0,30}\bdo anything now\b|\byou can do anything now\b|\bdan mode\b|\bjailbr(?:eak|oken)\b"
    r"|\b(?:developer|dev|god|sudo|admin|debug|unrestricted"
    r"|unfiltered|uncensored) mode\b",
    r"\bsystem prompt\b|\bsystem message\b|\binitial prompt\b|\bhidden (?:prompt|instructions?)\b",
    r"\b(?:reveal|show|print|display|output|repeat|leak|dump|share|recite|list|tell me|give me|what are|what were"
    r"|whats in)\s+(?:me\s+)?(?:all\s+|exactly\s+)?your\s+(?:\w+\s+)?(?:instructions|prompt|rules|guidelines"
    r"|programming|directives|configuration|config|training data)\b",
    r"\b(?:pretend|roleplay|role play|imagine (?:that )?(?:you are|youre|you were))\b[^.?!\n]{0,15}"
    r"\b(?:you are|youre|to be|as|you were|being|a|an|my)\b[^.?!\n]{0,25}\b(?:doctor|physician|pharmacist|gp"
    r"|psychiatrist|surgeon|nurse|dr|prescriber|unrestricted|different ai|another ai|evil|dan)\b",
    r"\bact as (?:if you (?:are|were) )?(?:a |an |my )?(?:real |licensed |qualified |human )?(?:doctor|physician"
    r"|pharmacist|gp|psychiatrist|prescriber|unrestricted|unfiltered)\b",
    r"\b(?:from now on|henceforth|for the rest of (?:this|our) conversation),? you (?:will|are|must|should|shall"
    r"|can|have to)\b",
    r"\bnew (?:instructions|rules|system prompt)\s*:|^\s*(?:system|assistant|developer)\s*:",
    r"\b(?:disable|turn off|switch off|remove|deactivate|bypass|override) (?:your |all |the |any )*(?:safety|filters?"
    r"|guardrails?|restrictions?|limits?|rules|censorship|warnings?)\b",
    r"\b(?:without|with no|no) (?:any )?(?:restrictions|filters|guardrails|censorship|safety rules|disclaimers"
    r"|limitations)\b[^.?!\n]{0,20}\b(?:answer|respond|reply|talk|tell)\b|\bstay in character\b",
    r"\byou (?:have|has) no (?:rules|restrictions|limits|filters|guidelines)\b",
    r"<\|[a-z_]+\|>|\[/?inst\]|<</?sys>>|<(?:start|end)_of_turn>|^\s*###\s*(?:instruction|system)",
    # Chinese
    r"(?:忽略|无视|忘记|忘掉|不要理会|别管|跳过|绕过)(?:掉)?(?:你)?(?:之前|以上|前面|上面|先前|原来|原有|所有|全部|你的|一切|系统)"
    r"[^。？！?!]{0,6}(?:指令|指示|规则|设定|提示|要求|限制|约束|命令|规定)",
    r"(?:显示|输出|告诉我|打印|泄露|给我看|重复|说出|透露|展示|公开)(?:一下)?(?:你的|你)(?:系统)?(?:提示词|提示|指令|设定|规则"
    r"|prompt|配置)",
    r"系统提示|系统指令|开发者模式|越狱|dan模式|上帝模式",
    r"(?:假装|假设|扮演|装作|充当|当作)(?:你是|成|自己是)?(?:一[个名位])?(?:真正的)?(?:医生|药剂师|药师|大夫)",
    r"你现在是(?:一个|一名)?(?:没有|不受|无)(?:任何)?(?:限制|约束|规则)|你现在是\s*dan",
    r"(?:解除|取消|关闭|去掉)(?:你的|所有|全部)?(?:的)?(?:安全)?(?:限制|过滤|规则|审查)",
    r"从现在(?:开始|起)[,，]?你(?:必须|要|将|只能|就是)",
    r"你的(?:系统)?(?:提示词|指令|设定|prompt)[^。？！?!]{0,6}(?:发给我|给我看|是什么|有哪些|告诉我|贴出来)",
)
# Meta questions get truthful, fixed answers instead of a model's guess ("the previous user said ...").
_OTHER_USERS = _compile(
    r"\b(?:what|who|which|tell me|show me|did|do|does|can you|could you|have you)\b[^.?!\n]{0,30}"
    r"\b(?:previous|last|other|another|earlier|next|different) (?:user|users|person|patient|patients|people|customer"
    r"|customers|conversation|conversations|chat|chats|session|sessions)\b[^.?!\n]{0,40}\b(?:tell|told|said|say"
    r"|says|ask|asked|talk|talked|wrote|write|symptoms?|problems?|questions?|details|names?|about)\b",
    r"\b(?:what|who) (?:did|do|does|have|has) (?:other|others|another|other people|someone else|anyone else)"
    r"\b[^.?!\n]{0,30}\b(?:ask|asked|tell|told|say|said|talk)",
    r"\b(?:show|tell|give|read) me (?:\w+ ){0,2}(?:someone elses|other (?:peoples|users|patients)) "
    r"(?:chats?|conversations?|messages?|questions?|records?|data)\b",
    r"(?:上一个|上一位|前一个|之前的|其他|别的)(?:用户|人|病人|患者|网友)[^。？！?!]{0,10}(?:问|说|聊|讲|告诉|提到|症状|问题)",
    r"别人(?:都)?(?:问过|问了|跟你说|和你说|的聊天|的对话|的记录)",
)
_PRIVACY_QUESTION = _compile(
    r"\b(?:what|how much) (?:do|will|does|did) (?:you|this (?:app|bot|chatbot|assistant|site)) (?:\w+ )?(?:store|save"
    r"|keep|record|log|remember|collect|know) (?:about|on|from) (?:me|us|my)\b",
    r"\b(?:do|will|does|are) (?:you|this (?:app|bot|chatbot|assistant)) (?:\w+ )?(?:store|save|keep|record|log"
    r"|collect|share|send|upload|sell|storing|saving|keeping|recording|logging|sharing|sending)\b[^.?!\n]{0,25}"
    r"\b(?:my|this|our|these|what i)\b[^.?!\n]{0,20}\b(?:data|chats?|conversations?|messages?|information|info"
    r"|details|questions?|symptoms|type|write|say)\b",
    r"\b(?:is|are) (?:this|my|our) (?:chat|conversation|data|messages?|information|info)\b[^.?!\n]{0,10}"
    r"\b(?:private|confidential|stored|saved|recorded|logged|shared|safe|secure|encrypted)\b",
    r"\bwhere (?:does|do|is|are) (?:my|this|our) (?:data|chat|conversation|messages?|information) (?:go|stored|saved"
    r"|kept|sent)\b",
    r"\b(?:delete|erase|remove|wipe) (?:my|this|our|all my) (?:data|chats?|conversations?|history|messages?"
    r"|records?)\b",
    r"(?:你|你们|这个(?:软件|程序|助手|机器人))(?:会)?(?:保存|存|记录|储存|收集|上传|分享|留)(?:下)?(?:了)?(?:我的)?"
    r"(?:聊天|对话|记录|数据|信息|隐私|问题)",
    r"(?:我的)?(?:聊天记录|对话|数据|信息|隐私)(?:会|会不会|是否)?(?:被)?(?:保存|上传|泄露|记录|存)",
    r"(?:删除|删掉|清除)(?:我的)?(?:聊天记录|对话|数据|信息|记录)",
)

_PRESCRIPTION = _compile(
    r"(?:^|[.!?,;\n]\s*|\b(?:please|pls|plz|just|now|so|then|doc|doctor|ok|okay|hi|hello|hey)\s+)prescribe\s+"
    r"(?:me|us|my|him|her|them|something|some|a |an )",
    r"\b(?:can|could|will|would|wont|cant|pls|please|plz) (?:you|u)\s+(?:please\s+|just\s+|pls\s+)?(?:prescribe"
    r"|(?:write|send|issue|give|sort|do) (?:me |us |out )?(?:a |an |another )?(?:new |repeat )?(?:prescription|script"
    r"|rx)|renew|refill)",
    r"\b(?:you|u) (?:should|must|need to|have to|can|could) prescribe\b|\bi want (?:you|u) to prescribe\b",
    r"\b(?:write|give|send|issue|get) (?:me|us) (?:a |an |another |new )?(?:repeat )?(?:prescription|script|rx"
    r"|scrip)\b",
    r"\b(?:renew|refill|repeat|extend) (?:my|his|her|our) (?:\w+ )?(?:prescription|script|rx|meds|medication)\b",
    _NOT_ASKED_BEFORE + r"\b(?:i (?:need|want|would like|am after|am looking for)|id like|im after|im looking for)"
    r" (?:a |an |another |new |my )?(?:repeat )?(?:prescription|script|rx|refill)s? (?:for|of)\b",
    r"\b(?:can|could|will|would|cant|please|pls) (?:you|u) (?:please |just |pls )?(?:give|get|send|sell|provide|supply"
    r"|order|ship|post|mail|hook (?:me )?up with) (?:me|us|my \w+|him|her|them)? ?(?:with )?(?:some |a |an |the |more "
    r"|a course of |a supply of |a pack of |a box of |a bottle of |few )?" + _RX_EN,
    r"(?:^|[.!?,;\n]\s*|\b(?:please|pls|just|now|so|then|ok|okay)\s+)(?:give|get|send|sell) (?:me|us) (?:some |a |an "
    r"|the |more |a course of |a supply of )?" + _RX_EN,
    r"\b(?:can|could|may) i (?:please )?(?:have|get|buy|order) (?:some |a |an |more |a course of |a supply of )?"
    + _RX_EN + r"\s*(?:from you|please|pls|now|off you|\?|$)",
    r"\b(?:buy|get|order|obtain|purchase)\b[^.?!\n]{0,30}\b" + _RX_EN + r"\b[^.?!\n]{0,25}\b(?:without (?:a |any )?"
    r"(?:prescription|script|doctor|rx)|no prescription|online without)\b",
    r"\bi want (?:some |more )?" + _RX_EN + r"\s*(?:now|please|pls|asap|from you|$)",
    # Chinese
    r"(?<![要会说想准备打算])(?:给我|帮我|替我|为我|给他|给她|给孩子|给宝宝|给我们)(?:开|配)(?![了过的始心车刀玩会门关窗口灯空])"
    r"(?![^。？！?!,，]{0,3}(?:假条|证明|发票|收据|诊断书|单子|检查单))",
    r"(?:你|您)(?:能|可以|能不能|可不可以|会不会|帮忙|帮我|给我)?(?:给我|帮我)?开(?:点|些|一点|一些|个|张|一张|几天的)?"
    r"(?:处方|药方|方子|药|" + _RX_ZH_ALT + ")",
    r"(?:^|[,，。!！?？\s]|请|麻烦|就)开(?:点|些|一点|一些|个|张|一张)(?:[^。？！?!,，]{0,4})?(?:处方|药方|方子|药|"
    + _RX_ZH_ALT + ")",
    r"(?:不用|不要|没有|无需|不需要|免)处方[^。？！?!]{0,6}(?:买|购买|拿|弄)",
    r"(?:买|购买|弄到)[^。？！?!]{0,8}" + _RX_ZH + r"[^。？！?!]{0,8}(?:不用|不要|没有|无需|不需要|免)处方",
    r"(?:卖|寄)(?:给我|我)[^。？！?!]{0,4}" + _RX_ZH,
)
_DOSING = _compile(
    # beyond the label, any medicine
    r"\bmore (?:\w+ ){0,3}?than (?:the |what (?:the |it )?|it says on the |its |my |what my )?(?:box|label|packet"
    r"|pack|leaflet|bottle|instructions|recommended|maximum|max|daily (?:limit|dose|maximum)|limit|dose|prescribed"
    r"|prescription|doctor (?:said|says|told)|says|it says|allowed|stated|directed)",
    r"\b(?:double|doubling|triple|tripling)\s+(?:up\s+)?(?:on\s+)?(?:my|the|a|your|his|her|this)?\s*(?:dose|dosage"
    r"|amount|pills?|tablets?|meds|medication)\b|\bdouble (?:dose|up)\b",
    r"\b(?:exceed|exceeding|go over|going over|go above|going above|above|over|past|beyond) (?:the |my )?(?:(?:daily"
    r"|label|labelled|stated|prescribed|safe) (?:dose|dosage|amount|limit|maximum|max)|(?:recommended|maximum|max)\b)",
    r"\b(?:increase|increasing|up|upping|raise|raising|bump up|boost|change|adjust) (?:my|the|his|her|our) (?:\w+ )?"
    r"(?:dose|dosage|medication dose)\b",
    r"\b(?:take|have|give (?:him|her|them|my \w+)) (?:an? )?(?:extra|additional|second|bigger|higher|stronger) "
    r"(?:\w+ )?(?:dose|pill|tablet|one|capsule)",
    # how much / what dose of a prescription-only medicine
    r"\bhow (?:many|much)\s+(?:" + _DOSE_UNIT + r"\s+)?(?:of\s+)?(?:(?:my|the|his|her)\s+)?" + _RX_EN
    + r"\b[^.?!\n]{0,40}\b(?:take|have|give|use|inject|swallow|should|can|could|do|is safe|at once|a day|per day)\b",
    r"\bhow (?:many|much) " + _DOSE_UNIT + r" (?:of )?[^.?!\n]{0,20}" + _RX_EN,
    r"\b(?:what|which|right|correct|usual|normal|starting|safe|max|maximum|highest|lowest|recommended|typical|proper)"
    r"(?: is the| s the| is a)? (?:dose|dosage|amount|strength|mg) (?:of|for) (?:\w+ ){0,2}?" + _RX_EN,
    r"\b(?:max|maximum|highest|most|safe|right|correct|usual) (?:daily )?(?:dose|dosage|amount) (?:of |for )?"
    r"(?:\w+ )?" + _RX_EN + r"|\b" + _RX_EN + r" (?:max |maximum |safe |right |correct )?(?:dose|dosage)\b[^.!\n]*\?",
    r"\b(?:can|could|should|may|is it ok to|is it safe to|ok to) (?:i )?(?:take|have|give (?:him|her|my \w+ )?)"
    r"\s*(?:" + _NUM_EN + r"|another|an extra|more|extra)\s+(?:" + _DOSE_UNIT + r"\s+)?(?:of\s+)?(?:my\s+)?" + _RX_EN,
    r"\b\d+\s*" + _DOSE_UNIT + r"\s+(?:of\s+)?" + _RX_EN + r"\s+(?:too much|too many|safe|ok|okay|a lot|too high"
    r"|an overdose|enough|dangerous)",
    # Chinese
    r"(?:吃|服|用|打|注射|喝)(?:多少|几)(?:片|粒|颗|毫克|mg|支|单位|个|次|瓶)?[^。？！?!,，]{0,4}" + _RX_ZH,
    _RX_ZH + r"[^。？！?!,，]{0,8}(?:吃|服|用|打|注射)(?:多少|几片|几粒|几颗|多大剂量|多少毫克|多少片|多少粒)",
    _RX_ZH + r"[^。？！?!,，]{0,6}(?:剂量|用量)(?:是)?(?:多少|多大)|" + _RX_ZH + r"[^。？！?!]{0,6}最大(?:剂量|用量)",
    r"(?:加大|增加|加倍|翻倍|双倍|提高|加|减)(?:一下)?(?:剂量|用量|药量)|(?:吃|服|用)(?:双倍|两倍|加倍|翻倍)|加倍(?:吃|服)"
    r"|(?:能|可以)(?:不能)?加倍",
    r"超过(?:说明书|推荐|规定|最大|医嘱|建议|处方)[^。？！?!]{0,4}(?:剂量|用量|量|的)?|(?:比|超出)说明书[^。？！?!]{0,6}多",
    r"多吃(?:几|一|两|点|些)(?:片|粒|颗|次)?|多服(?:几|一|两)",
)
_DIAGNOSIS = _compile(
    r"\btell me (?:for sure|for certain|definitely|exactly|100 ?%|100 percent|with certainty|honestly) (?:what|if"
    r"|whether|that)\b",
    r"(?:^|[.!?,;\n]\s*|\b(?:please|pls|just|can you|could you|will you|you|now|so|then|doc|doctor)\s+)diagnose "
    r"(?:me|my|this|what|him|her|it|us)\b",
    r"\b(?:give|want|need|tell) (?:me |us )?(?:a |an |the |my )?(?:definite|definitive|firm|final|proper|real"
    r"|official|certain|100 ?%|exact|actual|confirmed|clear|straight) diagnosis\b|\bi want (?:a|my|the) diagnosis\b",
    _CERTAIN + r"[^.!?\n]{0,30}\b(?:cancer|tumou?r|leuka?emia|disease|illness|infection|syndrome|disorder"
    r"|diabetes|stroke|heart attack|covid|hiv|aids|std|sti|appendicitis|meningitis|sepsis|dementia|serious"
    r"|wrong with me|what (?:i|he|she|it|this) (?:have|has|got|is)|whats wrong|what is wrong|what disease"
    r"|which disease)\b[^.!\n]{0,20}\?",
    _CERTAIN + r"\s+(?:is it|is this|do i have|have i got|am i|does (?:he|she) have|is (?:he|she))\b",
    r"\b(?:is it|is this|do i have|have i got|does (?:he|she) have|am i)\s+(?:\w+\s+){0,2}?(?:100 ?%|100 percent"
    r"|definitely|for sure|for certain|certainly)(?!\w)(?! safe| ok| okay| fine to| normal)",
    r"\b(?:do|does) (?:i|he|she) (?:definitely|really|100 ?%|certainly) have\b",
    r"\b(?:confirm|verify) (?:to me |for me )?(?:that |if |whether )?(?:i (?:have|ve got)|its|it is|this is|my "
    r"(?:diagnosis|condition)|i am|im|he has|she has)\b",
    r"\b(?:promise|guarantee|swear) (?:me |to me )?(?:that )?(?:its|it is|this is|this|i|he|she|my|there is|theres)\b"
    r"[^.!\n]{0,30}\b(?:not|isnt|nothing|no|dont|doesnt|fine|ok|okay|harmless|benign)\b",
    r"\bare you (?:sure|certain|100 ?% sure) (?:its|it is|it isnt|its not|this is|i (?:have|dont have|do not have)"
    r"|i am|im|that)\b",
    # Chinese
    r"(?:帮我|给我|替我|你能|你可以|能不能|可不可以|请|麻烦)(?:你)?(?:帮我|给我)?(?:确诊|诊断)|确诊一下|(?:确诊|诊断)(?:一下)?我",
    r"(?:百分之百|百分百|100 ?%|绝对|肯定|确定|保证)(?:地)?(?:是|不是|得了|有没有|有|没有|没得)[^。？！?!,，]{0,10}"
    r"(?:病|癌|瘤|炎|感染|综合征|艾滋|糖尿病|吗|么|嘛|\?|？)",
    r"你(?:能|可以|敢)?(?:确定|保证|肯定)(?:我|他|她|这|它)",
    r"直接(?:告诉我|说)(?:我)?(?:得了|是|得的是|到底是)什么病",
)
_OUT_OF_SCOPE = _compile(
    r"\b(?:write|compose|make up|create|generate) (?:me )?(?:a |an |some )?(?:short |funny |little |love )?(?:poem"
    r"|song|story|essay|joke|limerick|haiku|rap|cover letter|email|blog post|novel|script for a|speech|tweet)\b",
    r"\b(?:bitcoin|btc|crypto(?:currency)?|ethereum|dogecoin|forex|stock market|share price|stock price|nasdaq"
    r"|dow jones|s&p 500)\b|\b(?:buy|sell|invest in|price of) (?:\w+ )?(?:stocks?|shares)\b"
    r"|\bstocks? (?:price|market|tips)\b|\b(?:tesla|apple|nvidia|amazon|google|microsoft|meta) (?:stock|shares)\b",
    r"\b(?:python|javascript|typescript|java|c\+\+|rust|golang|sql|html|css|react|excel formula|regex|my code"
    r"|this code|a script|programming|compile error|syntax error|stack trace|bug in)\b",
    r"\b(?:who won|final score|match score|league table|world cup|premier league|champions league|super bowl|nba"
    r"|nfl|fifa|grand prix|formula 1|f1 race|the football|the match|the game last night|cricket score)\b",
    r"\b(?:recommend|suggest|good|best) (?:a |some )?(?:movies?|films?|tv shows?|series|books? to read|songs?|games?"
    r"|video games?|restaurants?|phones?|laptops?|cars?)\b",
    r"\bwhat is the capital of\b|\bcapital city of\b|\btell me a joke\b|\bmake me laugh\b",
    r"\b(?:weather|forecast)\b|\btranslate (?:this|that|the following|it) (?:in)?to\b|\blottery numbers?\b"
    r"|\bhoroscope\b|\bbook (?:me )?a (?:flight|hotel|table)\b|\b(?:solve|do) (?:this|my) (?:math|maths|equation"
    r"|homework)\b|\bwho is the (?:president|prime minister)\b|\belection\b",
    # Chinese
    r"写(?:一)?(?:首|篇|个|段)?(?:诗|歌|歌词|作文|文章|小说|故事|笑话|情书|邮件|演讲稿)|讲(?:个|一个)笑话",
    r"比特币|以太坊|加密货币|虚拟货币|股票|股价|基金|炒股|外汇|汇率",
    r"代码|编程|写程序",
    r"足球|篮球|比赛(?:谁赢了|比分|结果)|世界杯|英超|nba|比分",
    r"天气(?:预报|怎么样|如何)?|翻译(?:一下|这段|这句)|推荐(?:一部|几部|个)?(?:电影|电视剧|书|游戏|餐厅)|彩票|星座|首都是",
)
# Anything plausibly about health keeps a message in scope, however it is worded (conservative on purpose).
_HEALTH = re.compile(
    r"\b(?:health\w*|medic\w*|meds?|drugs?|pills?|tablets?|doctors?|gps?|nurses?|pharmac\w*|hospital\w*|clinic\w*"
    r"|a&e|symptoms?|pain\w*|ach\w*|hurt\w*|sore\w*|sick\w*|ill|illness\w*|disease\w*|injur\w*|diet\w*|nutri\w*"
    r"|calori\w*|weight|food\w*|eat\w*|sleep\w*|insomnia|exercis\w*|workouts?|fitness|pregnan\w*|bab(?:y|ies)"
    r"|mental\w*|stress\w*|anxi\w*|depress\w*|moods?|therap\w*|cancer\w*|heart\w*|blood|covid|vaccin\w*"
    r"|allerg\w*|asthma\w*|sex\w*|std|sti|cough\w*|fever\w*|headaches?|migraines?|body|skin|rash\w*|teeth|tooth"
    r"|dentist\w*|eyes?|ears?|posture|wellbeing|smok\w*|alcohol\w*|drink\w*|vap\w*|breath\w*|dizz\w*|nause\w*"
    r"|vomit\w*|diarrh\w*|pollen|heat ?stroke|sunburn\w*|dehydrat\w*|hydrat\w*|grief|griev\w*|suicid\w*|self harm"
    r"|lonel\w*|burnout|hangover|periods?|menstru\w*|diabet\w*|infect\w*|virus\w*|bacteri\w*|flu|colds?"
    r"|cholesterol|pressure|bmi|wounds?|bruis\w*|fractur\w*|bites?|stings?|arthritis|joints?|muscles?|bones?|back"
    r"|knees?|hips?|necks?|shoulders?|stomach|tumm(?:y|ies)|chest|head|throat|nose|lungs?|kidneys?|liver|bladder"
    r"|bowels?|urin\w*|pee\w*|poo\w*|stools?|itch\w*|lumps?|swell\w*|swollen|bleed\w*|burns?|tired\w*|fatigue"
    r"|cramps?|spots?|acne|hair|nails?|feet|foot|care|carer|dementia|autism|adhd|therapy|counsel\w*|wellness"
    r"|paracetamol|ibuprofen|aspirin|calpol|antihistamines?|vitamins?|supplements?|nhs|111|911|999)\b"
    r"|" + _RX_EN + r"|" + _RX_ZH
    + r"|健康|病|疼|痛|药|医|症|孕|睡|失眠|饮食|减肥|运动|锻炼|心理|焦虑|抑郁|身体|血|癌|疫苗|过敏|发烧|发热|咳|感冒"
    r"|伤|头晕|呕吐|拉肚子|腹泻|皮肤|牙|眼|耳|体重|营养|怀|宝宝|婴儿|压力|情绪|喝酒|吸烟|抽烟"
)

_PATTERNS: dict[str, list[re.Pattern[str]]] = {
    "self_harm_method": _SELF_HARM,
    "injection": _INJECTION,
    "other_users": _OTHER_USERS,
    "privacy_question": _PRIVACY_QUESTION,
    "prescription": _PRESCRIPTION,
    "dosing": _DOSING,
    "diagnosis": _DIAGNOSIS,
    "out_of_scope": _OUT_OF_SCOPE,
}


# ---- classification ----------------------------------------------------------------------------------------------
def classify(text: str) -> str | None:
    """The refusal kind for ``text`` by precedence (self-harm first: safety beats everything), or None."""
    norm = normalize(text)
    for kind in KINDS:
        if any(_hit(p, norm) for p in _PATTERNS[kind]):
            if kind == "out_of_scope" and _HEALTH.search(norm):
                return None
            return kind
    return None


def matched_kinds(text: str) -> list[str]:
    """Every kind whose patterns match, in precedence order: for tests and for explaining a decision."""
    norm = normalize(text)
    kinds = [k for k in KINDS if any(_hit(p, norm) for p in _PATTERNS[k])]
    if "out_of_scope" in kinds and _HEALTH.search(norm):
        kinds.remove("out_of_scope")
    return kinds
