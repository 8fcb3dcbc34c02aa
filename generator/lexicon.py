"""Character classes and patterns of news text shared by the cleaning and splitting stages.

Nothing here names a particular newspaper page: the lists are of kinds of things
(news agencies, dateline shapes, punctuation) that recur across the Chinese press,
simplified and traditional.
"""

from __future__ import annotations

import re
import sys

# Han ideographs: the URO, Extension A, compatibility ideographs and the supplementary
# planes (Extensions B and later), where rare name characters live.
HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
HAN_CHAR = re.compile(f"[{HAN}]")
HAN_RUN = re.compile(f"[{HAN}]+")
_SPACE = re.compile(r"\s")

# Full-width punctuation of Chinese text (opening and closing marks included).
CJK_PUNCT = "，。、；：？！（）“”‘’《》〈〉【】「」『』〔〕—…·～"

# Marks that end a sentence. A closing quote or bracket after one of them still ends it.
# The Latin full stop is one too: Chinese text ends its sentences with 。, so a '.' at
# the end of a paragraph is the end of a sentence in a Latin-script text.
SENTENCE_END = "。！？!?…."
CLOSERS = "”’）」』》)\"'】〕"

# Clause punctuation: its presence marks running prose rather than a heading.
CLAUSE_PUNCT = "，、；：。,;"

# Half-width marks and their full-width forms, used inside Chinese text.
FULL_WIDTH = {",": "，", ":": "：", ";": "；", "?": "？", "!": "！", "(": "（", ")": "）"}

# News agencies and papers that sign datelines, simplified and traditional forms.
AGENCIES = (
    "新华社", "新華社", "中新社", "中新網", "中国新闻社", "中國新聞社", "人民日报", "人民日報", "人民网",
    "新华网", "光明日报", "经济日报", "解放军报", "中央社", "央视网", "央视新闻", "中央广播电视总台",
    "中国日报", "中国青年报", "法制日报", "工人日报", "科技日报", "澎湃新闻",
    "路透社", "美联社", "美聯社", "法新社", "共同社", "塔斯社", "韩联社", "韓聯社", "德新社",
    "安莎社", "埃菲社", "合众国际社", "彭博社", "时事社", "俄新社",
)
_AGENCY = "|".join(sorted(AGENCIES, key=len, reverse=True))
_NUM = "[0-9０-９一二三四五六七八九十〇零两]{1,3}"
# A dateline may name the year too: 新华社北京2022年5月5日电.
_YEAR = "(?:[0-9]{4}|[０-９]{4}|[〇零○一二三四五六七八九]{4})年"
_DATE = f"(?:(?:{_YEAR})?{_NUM}月{_NUM}日|{_NUM}日)"
_PAREN = r"(?:[（(][^）)]{0,30}[）)])"
# A place name: a short Han run that does not swallow the 电 closing the dateline.
_PLACE = f"(?:(?![电電讯訊])[{HAN}]){{1,8}}?"

# Opens a report: 新华社北京5月5日电 / 据新华社北京5月5日电 / 中新社上海3月2日电（记者 王某）/
# 本报讯 / 本报北京5月5日讯 / 本报记者 张三. The place is the Han run before the date.
DATELINE_START = re.compile(
    rf"^(?P<via>据)?(?:"
    rf"(?P<agency>{_AGENCY})(?:记者|記者)?(?P<place>{_PLACE})?(?P<date>{_DATE})?[电電]{_PAREN}?"
    rf"|(?P<paper>本[报報])(?P<pplace>{_PLACE})?(?P<pdate>{_DATE})?(?:[电電讯訊]){_PAREN}?"
    rf"|(?P<paper2>本[报報][讯訊]){_PAREN}?"
    rf")[ 　]*"
)

# Closes a report taken from an agency: 据新华社电 / （新华社） / (据新华社北京5月5日电).
DATELINE_END = re.compile(
    rf"^[（(]?(?P<via>据)?(?P<agency>{_AGENCY})(?P<place>{_PLACE})?(?P<date>{_DATE})?[电電]?[）)]?$"
)

# A pull quote or list line set off by a bullet.
BULLET = re.compile(r"^[-–•·*▪■●◆]\s+")

# A run of Latin letters (a word), for finding English standing in for Chinese.
LATIN_WORD = re.compile(r"[A-Za-z]+(?:'[a-z]+)?")


def is_han(char: str) -> bool:
    return bool(HAN_CHAR.match(char))


def is_cjk(char: str) -> bool:
    """A Han character or full-width Chinese punctuation."""
    return is_han(char) or char in CJK_PUNCT


def ends_sentence(text: str) -> bool:
    """True when ``text`` ends a sentence (closing quotes after the mark allowed)."""
    stripped = text.rstrip()
    while stripped and stripped[-1] in CLOSERS:
        stripped = stripped[:-1]
    return bool(stripped) and stripped[-1] in SENTENCE_END


def han_count(text: str) -> int:
    """How many Han characters the text holds, counted by runs (a string per character was slow)."""
    return sum(map(len, HAN_RUN.findall(text)))


def han_share(text: str) -> float:
    """Share of non-space characters that are Han: tells Chinese text from other scripts."""
    letters = len(text) - len(_SPACE.findall(text))
    if not letters:
        return 0.0
    return han_count(text) / letters


# UTF-32 in the machine's byte order, so that 8 bytes read as one integer are two characters.
_UTF32 = "utf-32-le" if sys.byteorder == "little" else "utf-32-be"


def pair_codes(text: str) -> tuple[memoryview, memoryview]:
    """Every two adjacent characters of ``text`` as one 64-bit integer, made in C: first the
    pairs at even offsets, then those at odd offsets. One code stands for one pair
    (``pair_text`` gives it back), so codes count and compare as the pairs would, without
    a string made for each pair."""
    data = text.encode(_UTF32)
    even = memoryview(data[: len(data) // 8 * 8]).cast("Q")
    odd = memoryview(data[4 : 4 + (len(data) - 4) // 8 * 8]).cast("Q")
    return even, odd


def pair_text(code: int) -> str:
    """The two characters a ``pair_codes`` integer stands for."""
    first, second = chr(code & 0xFFFFFFFF), chr(code >> 32)
    return first + second if sys.byteorder == "little" else second + first
