"""Stage 3b: the metadata of each article — date, people, keywords — read from its text.

Dates: the dateline's date, else the first date in the opening paragraph. The year
comes from the date itself when it names one ('text'), else from the source's sidecar
('sidecar'), else from the newest year the source mentions ('source': a newspaper
page does not report on years still to come, and a target year, 到2035年, is not
counted), else from config.yaml's default_year ('config'). Where none is known the
date stays month-day: collation may still learn the year from another witness of the
same dispatch; nothing is guessed.

People: a name is a surname and one or two more characters, standing after a title
(总书记习近平, 市长龚正) or before a title or a verb of speech (王贺胜说, 李强指出). Of
the two- and three-character readings the longest that stands alone somewhere in the
text wins, so 市长龚正昨天 gives 龚正, not 龚正昨.

Keywords: terms quoted in the text (“动态清零”) and the character n-grams that recur
most in the article, without function characters at their edges.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace
from itertools import repeat

from .config import Config
from .lexicon import HAN, HAN_RUN, is_han, pair_codes, pair_text
from .models import Article, DateInfo, Text

_NUMBER = "[0-9０-９一二三四五六七八九十〇零两]{1,4}"
DATE_PATTERN = re.compile(
    rf"(?:(?P<year>(?:19|20)[0-9]{{2}}|[一二〇零○]{{4}})年)?(?P<month>{_NUMBER})月(?P<day>{_NUMBER})日"
)
# A year the source mentions. One after 到 or 至 (到2035年) is a target, not the present,
# and one after a digit is part of a longer number (see ``mentioned_years``).
YEAR_PATTERN = re.compile(r"((?:19|20)[0-9]{2})年")
NOT_BEFORE_YEAR = set("0123456789到至")

SURNAMES_TWO = ("欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "令狐", "慕容", "司徒", "夏侯", "歐陽", "諸葛")
SURNAMES = set(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
    "习温胡江栗汪赵韩丁蔡尤易童骆柯鲁葛常翟倪庞耿殷鲍齐麦俞岳舒聂宁祝牛甘景包左欧单阎"
    "張劉陳楊黃趙吳許鄭謝韓馮鄧蕭葉蘇盧鍾譚陸賈韋鄒龔錢顧閻聶"
)
TITLES = (
    "总书记", "國家主席", "国家主席", "主席", "副总理", "总理", "委员长", "国务委员", "书记", "副书记",
    "市长", "副市长", "省长", "副省长", "区长", "县长", "局长", "副局长", "部长", "副部长", "主任", "副主任",
    "秘书长", "发言人", "大使", "总统", "首相", "院长", "校长", "董事长", "总经理", "主持人", "教授",
    "總書記", "總理", "書記", "市長", "局長", "部長", "發言人", "總統",
)
SPEECH = ("同志", "说", "指出", "表示", "强调", "主持", "出席", "介绍", "认为", "讲话", "会见", "說", "強調", "表說")
_TITLE = "|".join(sorted(TITLES, key=len, reverse=True))
_AFTER = "|".join(sorted(TITLES + SPEECH, key=len, reverse=True))
AFTER_TITLE = re.compile(rf"(?:{_TITLE})([{HAN}]{{2,4}})")
# Matched at a position (``match(text, pos)``), never on a slice: slicing the rest of
# the source for every occurrence of a name made name finding quadratic.
STANDS_BEFORE = re.compile(rf"(?:[^{HAN}]|{_AFTER}|$)")
TITLE_OR_SPEECH = re.compile(rf"^(?:{_AFTER})")

# Function characters: an n-gram starting or ending with one is not a term.
FUNCTION_CHARS = set("的了和与及或并而在是为对把被将要也就都其这那之于以上下中个们有不我他她它你从向到由等该各此")
# Particles no word grows across (个 of 个体 or 中 of 中央 may belong to a word).
PARTICLES = set("的了和是在与及或并而对把被将也就都等")
QUOTED = re.compile(r"[“「『]([^”」』]{2,10})[”」』]")
KEYWORD_LIMIT = 8
# Character pairs that seed keyword candidates, and the longest keyword grown from one.
KEYWORD_SEEDS = 40
KEYWORD_MAX_CHARS = 8


def _surname_prefix(candidate: str) -> int:
    """Length of the surname the candidate starts with, 0 if none."""
    if candidate[:2] in SURNAMES_TWO:
        return 2
    return 1 if candidate[:1] in SURNAMES else 0


def _stands_alone(name: str, text: str) -> bool:
    """Does ``name`` occur somewhere followed by a non-Han character, a title or a verb of speech?"""
    start = text.find(name)
    while start != -1:
        if STANDS_BEFORE.match(text, start + len(name)):
            return True
        start = text.find(name, start + 1)
    return False


def _name_from(candidate: str, text: str, following: str = "") -> str | None:
    """The name at the start of ``candidate`` (the Han run after a title); ``following`` is
    the text after the run."""
    surname = _surname_prefix(candidate)
    if not surname:
        return None
    for length in (surname + 2, surname + 1):
        name = candidate[:length]
        if len(name) != length:
            continue
        # 发言人张明说: the last character of 张明说 starts a verb of speech, so the name
        # is 张明. (王贺胜说 is 王贺胜: 胜说 starts no such word.)
        if length == surname + 2 and TITLE_OR_SPEECH.match(candidate[surname + 1 :] + following):
            continue
        if _stands_alone(name, text):
            return name
    return None


def _runs_before_words(text: str) -> list[tuple[int, str]]:
    """The Han runs of 2-4 characters that end where a title or verb of speech starts.

    Scanning from the left, each is the shortest such run from the first position
    that has one, and the next is looked for after it: the matches of
    ``([HAN]{2,4}?)(?=title|speech)``, as (start, run). The regular expression tried
    every word at every character, a fifth of describing; here each word is looked
    for once with ``str.find``.
    """
    word_starts: set[int] = set()
    for word in TITLES + SPEECH:
        at = text.find(word)
        while at != -1:
            word_starts.add(at)
            at = text.find(word, at + 1)
    shortest: dict[int, int] = {}
    for end in word_starts:
        for length in (2, 3, 4):
            begin = end - length
            if begin >= 0 and HAN_RUN.fullmatch(text, begin, end):
                shortest[begin] = min(length, shortest.get(begin, length))
    runs: list[tuple[int, str]] = []
    position = 0
    for begin in sorted(shortest):
        if begin >= position:
            position = begin + shortest[begin]
            runs.append((begin, text[begin:position]))
    return runs


def extract_people(text: str, context: str | None = None) -> tuple[str, ...]:
    """Names of people in the text, most mentioned first.

    ``context`` (the whole source) decides where a name ends when the article alone
    cannot: 市长龚正昨天 in one article, 市长龚正， in another.
    """
    whole = text if context is None else context
    found: Counter[str] = Counter()
    for match in AFTER_TITLE.finditer(text):
        name = _name_from(match.group(1), whole, text[match.end(1) :])
        if name:
            found[name] += 1
    for begin, chunk in _runs_before_words(text):
        # The name is the tail of the Han run before the title: try the shortest tails that
        # start with a surname, longest plausible first.
        sizes = (4, 3) if chunk[-4:-2] in SURNAMES_TWO else (3, 2)
        for size in sizes:
            candidate = chunk[-size:]
            if len(candidate) != size or not _surname_prefix(candidate):
                continue
            # What stands before the name is tested first: it is cheap, and it is often
            # more Han text, which rules the name out.
            cut = begin + len(chunk) - size
            if (cut == 0 or not is_han(text[cut - 1]) or text.endswith(TITLES, 0, cut)) and _stands_alone(candidate, whole):
                found[candidate] += 1
                break
    counts = Counter({name: text.count(name) for name in found})
    return tuple(sorted(counts, key=lambda name: (-counts[name], name)))


# Neighbours a word never grows by, in text of Han runs one a line: the end of the
# text, a line break (punctuation or anything else between two runs) and the particles.
_NO_GROWTH = PARTICLES | {"", "\n"}


def _before_every(pieces: list[str], term: str, char: str) -> bool:
    """Does ``char`` stand before every occurrence of ``term``? ``pieces`` is
    ``text.split(term)``: piece i stands before occurrence i, and an empty piece between
    two occurrences means they touch. Tested in C (``map``) but for touching occurrences."""
    inner = pieces[1:-1]
    if char == term[-1]:
        # Touching occurrences stand before each other: an empty piece agrees too.
        return all(piece[-1:] in ("", char) for piece in inner)
    return all(map(str.endswith, inner, repeat(char)))


def _after_every(pieces: list[str], term: str, char: str) -> bool:
    """Does ``char`` stand after every occurrence of ``term``? (``pieces`` as for ``_before_every``.)"""
    inner = pieces[1:-1]
    if char == term[0]:
        return all(piece[:1] in ("", char) for piece in inner)
    return all(map(str.startswith, inner, repeat(char)))


def _whole_word(term: str, text: str) -> tuple[str, int] | None:
    """Grow a recurring string of ``text`` (Han runs, one a line) while every occurrence
    has the same neighbour on one side; the word and how often it occurs.

    新冠 always followed by 肺 is a piece of a longer word: growing stops where the
    neighbours vary (accessor variety) or at a particle. A string that would grow past
    the length limit is a piece of a repeated passage, not a word: None. Occurrences
    are those ``str.find`` meets from the left, not overlapping (``str.split``'s and
    ``str.count``'s).
    """
    while True:
        pieces = text.split(term)
        # Only the first occurrence's left neighbour and the last one's right can be shared.
        left, right = pieces[0][-1:], pieces[-1][:1]
        if left not in _NO_GROWTH and _before_every(pieces, term, left):
            term = left + term
        elif right not in _NO_GROWTH and _after_every(pieces, term, right):
            term = term + right
        else:
            return term, len(pieces) - 1
        if len(term) > KEYWORD_MAX_CHARS:
            return None


# Characters no keyword seed holds: function characters, and the line break between runs.
_NOT_IN_SEED = FUNCTION_CHARS | {"\n"}


def _seed_pairs(text: str) -> list[str]:
    """The KEYWORD_SEEDS character pairs found most often (twice at least) in ``text``,
    ties in character order, none holding a function character or a line break.

    The pairs are counted and ranked as integers (``pair_codes``), in C; only those
    ranked near the top become strings. Making a string of every pair, then sorting and
    filtering all of them, took a third of keyword finding.
    """
    even, odd = pair_codes(text)
    counts = Counter(even)
    counts.update(odd)
    ranked: list[tuple[int, str]] = []
    lowest = 0  # the count of the last pair taken: the KEYWORD_SEEDS-th once there are enough
    for code, count in counts.most_common():
        if count < 2 or (len(ranked) >= KEYWORD_SEEDS and count < lowest):
            break
        pair = pair_text(code)
        if pair[0] not in _NOT_IN_SEED and pair[1] not in _NOT_IN_SEED:
            ranked.append((-count, pair))
            lowest = count
    return [pair for _, pair in sorted(ranked)[:KEYWORD_SEEDS]]


def extract_keywords(text: str, limit: int = KEYWORD_LIMIT) -> tuple[str, ...]:
    """Quoted terms first, then the recurring words of the text, most text covered first.

    The most frequent character pairs are the seeds (``_seed_pairs``); each grows into
    the whole word it belongs to (``_whole_word``).
    """
    quoted = Counter(term for term in QUOTED.findall(text) if HAN_RUN.fullmatch(term))
    # Runs joined by a line break: no word grows across punctuation.
    joined = "\n".join(HAN_RUN.findall(text))
    # How much text each word found covers.
    scores: dict[str, int] = {}
    # The words found, one a line: a seed (no line break in it) is in one of them when
    # it is in this text.
    found = ""
    for seed in _seed_pairs(joined):
        # A seed inside a word already found would grow into that word again.
        if seed in found:
            continue
        grown = _whole_word(seed, joined)
        if grown:
            word, count = grown
            scores[word] = count * len(word)
            found += "\n" + word
    chosen: list[str] = []
    for term in sorted(quoted, key=lambda t: (-quoted[t], t)):
        if term not in chosen:
            chosen.append(term)
    for term in sorted(scores, key=lambda t: (-scores[t], t)):
        if len(chosen) >= limit:
            break
        # A shorter word inside a chosen term (or one containing it) adds nothing.
        if any(term in other or other in term for other in chosen):
            continue
        chosen.append(term)
    return tuple(chosen[:limit])


def _chinese_number(text: str) -> int:
    digits = "〇一二三四五六七八九"
    if text.isdigit():
        return int(text.translate(str.maketrans("０１２３４５６７８９", "0123456789")))
    if all(c in digits + "零○" for c in text):
        return int("".join(str(digits.index(c)) if c in digits else "0" for c in text))
    value = 0
    if "十" in text:
        tens, _, units = text.partition("十")
        value = (digits.index(tens) if tens else 1) * 10
        text = units
    return value + (digits.index(text) if text else 0)


def mentioned_years(text: str) -> list[int]:
    """The years of YEAR_PATTERN in the text but those after a digit, 到 or 至.

    The character before is tested here, not by a look-behind: a pattern that starts
    with one is tried at every character of the source. (Two candidates never
    overlap, so a rejected one hides no other.)
    """
    return [
        int(match.group(1))
        for match in YEAR_PATTERN.finditer(text)
        if match.start() == 0 or text[match.start() - 1] not in NOT_BEFORE_YEAR
    ]


def source_year(text: Text, config: Config) -> tuple[int | None, str | None]:
    """The year the source was published in, and where that came from."""
    sidecar = text.source.sidecar
    if sidecar.year is not None:
        return sidecar.year, "sidecar"
    if sidecar.date is not None:
        return int(sidecar.date[:4]), "sidecar"
    years = mentioned_years(text.source.text)
    if years:
        return max(years), "source"
    if config.default_year is not None:
        return config.default_year, "config"
    return None, None


def article_date(article: Article, year: int | None, year_source: str | None) -> DateInfo:
    candidates = []
    if article.dateline and article.dateline.date:
        candidates.append(article.dateline.date)
    if article.paragraphs:
        first_sentence = re.split("[。！？]", article.paragraphs[0], maxsplit=1)[0]
        candidates.append(first_sentence)
    for candidate in candidates:
        match = DATE_PATTERN.search(candidate)
        if not match:
            continue
        try:
            month, day = _chinese_number(match.group("month")), _chinese_number(match.group("day"))
        except ValueError:
            continue
        if not (1 <= month <= 12 and 1 <= day <= 31):
            continue
        if match.group("year"):
            return DateInfo(f"{_chinese_number(match.group('year')):04d}-{month:02d}-{day:02d}", "day", "text")
        if year is not None:
            return DateInfo(f"{year:04d}-{month:02d}-{day:02d}", "day", year_source)  # type: ignore[arg-type]
        return DateInfo(f"--{month:02d}-{day:02d}", "month-day", "text", "year unknown")
    return DateInfo(None, None, None, "no date in the text")


def describe(articles: tuple[Article, ...], text: Text, config: Config) -> tuple[Article, ...]:
    year, year_source = source_year(text, config)
    described = []
    for article in articles:
        if article.kind == "notice":
            described.append(article)
            continue
        body = "\n".join((article.kicker or "", article.headline or "", article.subheadline or "", article.text))
        date = article_date(article, year, year_source)
        if date.value is None and text.source.sidecar.date is not None:
            date = DateInfo(text.source.sidecar.date, "day", "sidecar", "the source's publication date")
        described.append(
            replace(
                article,
                date=date,
                people=extract_people(body, text.source.text),
                keywords=extract_keywords(body),
            )
        )
    return tuple(described)
