"""How things read on the web pages: page text, values in words, money, dates, labels.

Everything a person reads that is not in the rules comes from words.yaml beside this
file ([中文, English] pairs); an enum value reads as its label from the rule set in Chinese
and as its English word from words.yaml in English. Chinese is the default language; `lang`
is "zh" or "en".
"""
from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import yaml
from babel.dates import format_date, format_skeleton
from babel.numbers import format_currency, format_decimal, format_percent

from engine.types import CHINA, parse_datetime

WORDS = yaml.safe_load((Path(__file__).with_name("words.yaml")).read_text(encoding="utf-8"))
LANGS = ("zh", "en")


def _i(lang: str) -> int:
    return 1 if lang == "en" else 0


def text(key: str, lang: str) -> str:
    """A piece of page text."""
    pair = WORDS["ui"].get(key)
    return pair[_i(lang)] if pair else key


def value_words(t, field: str, value, lang: str) -> str | None:
    """A value of the enum type `t` (of the input or output `field`) in words: its label in the
    rule set (Chinese), its word in words.yaml (English, else the code); None when it is not one
    of the enum's values."""
    if t is None or t.kind != "enum" or str(value) not in t.values:
        return None
    if lang == "en":
        return WORDS["values_en"].get(field, {}).get(str(value), str(value))
    return t.label(str(value))


def tone(field: str, value) -> str:
    return WORDS["tone"].get(field, {}).get(str(value), "neutral")


# --------------------------------------------------------------------------- numbers and dates
# Babel formats them by the CLDR conventions of the page's language: ¥1,234.50 and 2026年11月25日
# in Chinese, CN¥1,234.50 and November 25, 2026 in English.

LOCALES = {"zh": "zh_CN", "en": "en"}


def _decimal(value) -> Decimal | None:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def money(value, lang: str) -> str:
    """¥1,234.50 (the engine has rounded already; this only formats)."""
    d = _decimal(value)
    return str(value) if d is None else format_currency(d, "CNY", locale=LOCALES[lang])


def percent(value, lang: str) -> str:
    """0.85 → 85%, 0.075 → 7.5% (every digit the value has)."""
    return format_percent(Decimal(str(value)), locale=LOCALES[lang], decimal_quantization=False)


def number(value, lang: str) -> str:
    """12,345.678 (every digit the value has)."""
    d = _decimal(value)
    return str(value) if d is None else format_decimal(d, locale=LOCALES[lang], decimal_quantization=False)


def day(value, lang: str) -> str:
    """2026年11月25日 / November 25, 2026."""
    d = value if isinstance(value, date) else date.fromisoformat(str(value))
    return format_date(d, "long", locale=LOCALES[lang])


def moment(value, lang: str) -> str:
    """A date-time in China time: 2026年9月30日 14:30 / September 30, 2026 14:30 (seconds when not 0)."""
    t = value if isinstance(value, datetime) else parse_datetime(str(value))
    t = t.astimezone(CHINA)
    clock = format_skeleton("Hms" if t.second else "Hm", t, tzinfo=CHINA, locale=LOCALES[lang])
    return f"{day(t.date(), lang)} {clock}"


def short_moment(t: datetime, lang: str) -> str:
    """9月30日 14:30 / Sep 30 14:30."""
    t = t.astimezone(CHINA)
    return (f"{format_skeleton('MMMd', t, tzinfo=CHINA, locale=LOCALES[lang])} "
            f"{format_skeleton('Hm', t, tzinfo=CHINA, locale=LOCALES[lang])}")


def month_day(d: date, lang: str) -> str:
    """9/30: a day on the timeline's axis."""
    return format_skeleton("Md", d, locale=LOCALES[lang])


# --------------------------------------------------------------------------- labels

_PAREN = re.compile(r"^(?P<label>[^（(]+?)\s*[（(](?P<hint>.*)[）)]\s*$")


def split_title(title: str) -> tuple[str, str]:
    """'购买日期（开具发票之日）' → ('购买日期', '开具发票之日'): the label and a hint under it."""
    m = _PAREN.match(title or "")
    if not m:
        return title, ""
    return m["label"], m["hint"]


def humanize(name: str) -> str:
    text_ = name.replace("_", " ").strip()
    return text_[:1].upper() + text_[1:]


def label(name: str, title: str, lang: str) -> tuple[str, str]:
    """(label, hint) of an input or output: the YAML title in Chinese, English words in English."""
    if lang == "en":
        return WORDS.get("fields_en", {}).get(name) or humanize(name), ""
    if not title:
        return name, ""
    return split_title(title)


def output_value(name: str, spec, value, lang: str) -> str:
    """A value in words by its type; `spec` is the model Input or Output (or None)."""
    if spec is None:
        t = None
    elif hasattr(spec, "result_type"):
        t = spec.result_type
    else:
        t = spec.type
    if isinstance(value, list):
        item = t.item if t is not None and t.kind == "list" else None
        return "、".join(_scalar(name, item, v, lang) for v in value) or "—"
    return _scalar(name, t, value, lang)


def _scalar(name, t, value, lang) -> str:
    if value is None:
        return "—"
    kind = t.kind if t is not None else ""
    if isinstance(value, bool) or kind == "boolean":
        return text("bool_true" if value else "bool_false", lang)
    if kind == "money":
        return money(value, lang)
    if kind == "date":
        try:
            return day(value, lang)
        except ValueError:
            return str(value)
    if kind == "datetime":
        try:
            return moment(value, lang)
        except ValueError:
            return str(value)
    if kind == "decimal" and name in WORDS.get("percent", []):
        try:
            return percent(value, lang)
        except InvalidOperation:
            return str(value)
    if kind in ("integer", "decimal"):
        return number(value, lang)
    words = value_words(t, name, value, lang)
    return words if words is not None else str(value)


# --------------------------------------------------------------------------- messages

_MESSAGES = [
    (re.compile(r"^is required$"), "必填"),
    (re.compile(r"^expected a whole number$"), "请填写整数"),
    (re.compile(r"^expected a number$"), "请填写数字"),
    (re.compile(r"^expected text$"), "请填写文字"),
    (re.compile(r"^expected a date YYYY-MM-DD$"), "请填写日期（年-月-日）"),
    (re.compile(r"^expected a date-time like .*$"), "请填写日期和时间"),
    (re.compile(r"^must be at least (.+)$"), r"不能小于 \1"),
    (re.compile(r"^must be at most (.+)$"), r"不能大于 \1"),
    (re.compile(r"^money has at most two decimals \(fen\)$"), "金额最多两位小数（分）"),
    (re.compile(r"^needs at least (\d+) items?$"), r"至少填写 \1 项"),
    (re.compile(r"^takes at most (\d+) items$"), r"最多填写 \1 项"),
    (re.compile(r"^must be one of: .*$"), "请从列表中选择"),
]
_ITEM = re.compile(r"^item (\d+): (.*)$")


def message(msg: str, lang: str) -> str:
    """The engine's field messages are English for type errors; say them in Chinese too."""
    if lang != "zh":
        return msg
    m = _ITEM.match(msg)
    if m:
        return f"第 {int(m[1]) + 1} 项：{message(m[2], lang)}"
    for pattern, zh in _MESSAGES:
        if pattern.match(msg):
            return pattern.sub(zh, msg)
    return msg


# --------------------------------------------------------------------------- headline

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def headline(ruleset, response: dict, case: dict, lang: str) -> tuple[str, str]:
    """(text, tone) of a decision card: the first matching line of words.yaml `headline`."""
    decision = response.get("decision", {})
    facts = {**(case or {}), **decision}
    for line in WORDS.get("headline", {}).get(ruleset.name if ruleset else response["ruleset"]["name"], []):
        if any(str(facts.get(k)) != str(v) for k, v in (line.get("when") or {}).items()):
            continue
        template = line["text"][_i(lang)]
        names = _PLACEHOLDER.findall(template)
        if any(decision.get(n) is None for n in names):
            continue
        outputs = ruleset.outputs if ruleset else {}
        out = _PLACEHOLDER.sub(lambda m: output_value(m[1], outputs.get(m[1]), decision.get(m[1]), lang), template)
        tones = [tone(k, facts.get(k)) for k in line.get("tone_from") or names + list(line.get("when") or {})]
        worst = "bad" if "bad" in tones else "warn" if "warn" in tones else "good" if "good" in tones else "neutral"
        return out, worst
    return "", "neutral"
