"""Loader and `check` messages in Chinese: a catalogue from the English patterns the engine emits
to Chinese templates with the same placeholders, applied when a problem is shown.

The engine writes its messages in English, as before (the API's JSON, the logs and the tests keep
them); `localize(message, "zh")` finds the pattern a message was made from and fills the Chinese
template with the same values, themselves translated where they are English phrases the engine
composed (a type, "an input", a hint). A message no pattern matches stays English: never an error.

Patterns: `{0}`, `{1}`, … stand for the computed parts of the English f-string, numbered in order
(tests/engine/test_messages.py reads the engine's source and checks that every message it emits
has an entry here). Where two placeholders are adjacent in English they stay adjacent, in the same
order, in Chinese, since the split between them is not recoverable from the text.
"""
from __future__ import annotations

import os
import re
from functools import lru_cache

LANGS = ("zh", "en")
MAX_NESTING = 4
"""Levels of placeholders translated inside placeholders (a type inside "{0} (in: {1})" is 2):
the catalogue's deepest is 3, and a bound keeps a crafted message from costing more."""
MAX_ACCEPT_LANGUAGE = 200
"""Characters of an Accept-Language header read (browsers send under 100): the first language
decides, so a longer header need not be read."""

# -- whole messages: the loader (engine.loading), the expression language, the calendar, `check` --
MESSAGES = {
    # engine/loading/compiler.py
    "unknown key {0} in {1}{2}": "{1} 中有未知的键 {0}{2}",
    "expected an expression (text)": "这里应写一个表达式（文本）",
    "{0}: missing 'type'": "{0}：缺少 'type'（类型）",
    "{0}: unknown type {1} (types: {2}, list)": "{0}：未知的类型 {1}（可用类型：{2}、list）",
    "{0} is already defined (as {1})": "{0} 已经定义过（是{1}）",
    "{0} is not a valid name (letters, digits, '_'; starts with a letter)":
        "{0} 不是有效的名称（只能用字母、数字和 '_'，并以字母开头）",
    "'ruleset: {0}' must match the file name {1}": "'ruleset: {0}' 必须与文件名 {1} 一致",
    "missing 'version' (a label such as \"2026.1\")": "缺少 'version'（版本标签，例如 \"2026.1\"）",
    "'inputs' is a mapping of field name → {type: …}": "'inputs' 应是“字段名 → {type: …}”的映射",
    "'derived' is a mapping of name → expression, in order": "'derived' 应是按顺序排列的“名称 → 表达式”映射",
    "'stages' is a list of {name:, rules: […]}": "'stages' 应是 {name:, rules: […]} 的列表",
    "effective_from is after effective_to": "effective_from（生效日）晚于 effective_to（失效日）",
    "priority must be a whole number": "priority（优先级）必须是整数",
    "'then' is a mapping of output → value": "'then' 应是“输出 → 值”的映射",
    "accept is a list of {finding: …, reason: …}": "accept 应是 {finding: …, reason: …} 的列表",
    "a rule needs an 'id'": "规则缺少 'id'（编号）",
    "rule {0} has no 'when' (write `when: true` for a rule that always applies)":
        "规则 {0} 没有 'when'（条件；总是适用的规则请写 `when: true`）",
    "needs is a list of input names, e.g. needs: [price]": "needs 应是输入名称的列表，例如 needs: [price]",
    "hit must be one of {0}": "hit（命中策略）必须是 {0} 之一",
    "a decision table has columns: […], outputs: […] and rows: [[…], …]":
        "决策表应有 columns: […]、outputs: […] 和 rows: [[…], …]",
    "{0} (in: {1})": "{0}（位于：{1}）",
    "{0}: an enum needs 'values', a list of names": "{0}：枚举类型需要 'values'（取值名称的列表）",
    "{0}: duplicate enum values": "{0}：枚举取值有重复",
    "{0}: {1} — {2}": "{0}：{1} —— {2}",
    "output {0} is set by no rule": "没有任何规则设定输出 {0}",
    "input {0}: expected {type: …, title: …}": "输入 {0}：应写成 {type: …, title: …}",
    "parameter {0}: cannot tell the type of {1}; add 'type:'": "参数 {0}：无法判断 {1} 的类型，请加上 'type:'",
    "parameter {0} has no value": "参数 {0} 没有值",
    "table {0}: expected {rows: {key: value}}": "表 {0}：应写成 {rows: {键: 值}}",
    "table {0}: mix of plain values and column rows": "表 {0}：单值行与多列行混用",
    "table {0}: a value of unknown type": "表 {0}：有一个类型未知的值",
    "derived {0}: cannot tell its type; wrap it (e.g. coalesce(x, 0))":
        "派生事实 {0}：无法判断其类型，请包一层（例如 coalesce(x, 0)）",
    "a validation is {field: …, require: <expression>, message: …}":
        "校验应写成 {field: …, require: <表达式>, message: …}",
    "validation names unknown input {0}": "校验引用了未知的输入 {0}",
    "output {0}: expected {type: …}": "输出 {0}：应写成 {type: …}",
    "output {0}: combine must be one of {1}": "输出 {0}：combine（合并方式）必须是 {1} 之一",
    "output {0} has the name of an {1}": "输出 {0} 与一个{1}同名",
    "output {0}: required is true, false or a condition": "输出 {0}：required 应为 true、false 或一个条件",
    "a stage is {name: …, rules: […]}": "阶段应写成 {name: …, rules: […]}",
    "a condition is an expression, a list, or one of all: / any: / not:":
        "条件应是一个表达式、一个列表，或 all: / any: / not: 之一",
    "'{0}' takes a list of conditions": "'{0}' 后面应是条件的列表",
    "unknown output {0}{1}": "未知的输出 {0}{1}",
    "accept: finding must be {0} here": "accept：这里的 finding 必须是 {0}",
    "accept: give the reason the finding is accepted": "accept：请写明接受该发现的理由（reason）",
    "accept: no rule {0}{1}": "accept：没有规则 {0}{1}",
    "accept: unknown output {0}{1}": "accept：未知的输出 {0}{1}",
    "rule {0} has no '{1}' (cite '<seed file> § <clause>')": "规则 {0} 没有 '{1}'（请引用 '<依据文件> § <条款>'）",
    "rule {0} has no '{1}'": "规则 {0} 没有 '{1}'",
    "needs: {0} is not an input{1}": "needs：{0} 不是输入{1}",
    "row {0} needs {1} condition cells and {2} outputs": "第 {0} 行需要 {1} 个条件单元格和 {2} 个输出",
    "a rule set file is a mapping (ruleset:, inputs:, stages: …)":
        "规则集文件应是一个映射（ruleset:、inputs:、stages: …）",
    "table {0}: {1}": "表 {0}：{1}",
    "{0}: {1}": "{0}：{1}",
    "output {0} is already decided in stage {1}; each output is decided by one stage":
        "输出 {0} 已在阶段 {1} 中决定；每个输出只能由一个阶段决定",
    "{0}: {1} is not a date YYYY-MM-DD": "{0}：{1} 不是 YYYY-MM-DD 格式的日期",
    "needs: input {0} has a default, so it is always given": "needs：输入 {0} 有默认值，因此总是有值",
    "hit: collect needs output {0} to have combine: collect": "hit: collect 要求输出 {0} 设为 combine: collect",
    "input {0}: '{1}' applies to numbers only": "输入 {0}：'{1}' 只适用于数字",
    "duplicate rule id {0} (also at line {1})": "规则编号 {0} 重复（第 {1} 行也有）",
    "cannot read the cell {0}": "无法读取单元格 {0}",
    # engine/loading/yamlsource.py
    "the tag {0} is not used in rule files; write plain text, numbers, lists and mappings":
        "规则文件不使用标签 {0}；请写普通文本、数字、列表和映射",
    "a number of more than {0} digits": "数字超过 {0} 位",
    "{0} is not true or false": "{0} 不是 true 或 false",
    "a number outside 1e-{0}..1e{1}": "数字超出 1e-{0}..1e{1} 的范围",
    "nested more than {0} levels deep": "嵌套超过 {0} 层",
    "{0} is not a whole number": "{0} 不是整数",
    "a key must be text, a number or a date, not a list or mapping": "键必须是文本、数字或日期，不能是列表或映射",
    "the file is larger than {0} bytes": "文件大于 {0} 字节",
    "alias *{0} is inside its own anchor": "别名 *{0} 位于它自己的锚点之内",
    "aliases repeat more than {0} nodes in all (at *{1}); write the values out":
        "别名共重复了超过 {0} 个节点（在 *{1} 处）；请直接写出这些值",
    "nested more than {0} levels deep (through *{1})": "嵌套超过 {0} 层（经由 *{1}）",
    "cannot read the file: {0}": "无法读取文件：{0}",
    "not UTF-8 text (byte 0x{0})": "不是 UTF-8 文本（字节 0x{0}）",
    "YAML syntax: character {0} is not allowed": "YAML 语法：不允许字符 {0}",
    "YAML syntax: {0}": "YAML 语法：{0}",
    # engine/language/expressions.py
    "the literal {0} is not allowed": "不允许字面量 {0}",
    "this operator is not allowed": "不允许这个运算符",
    "cannot compare {0} with {1} using '{2}'{3}": "不能用 '{2}' 比较{0}与{1}{3}",
    "empty expression": "表达式为空",
    "expression longer than {0} characters: split it into derived facts": "表达式超过 {0} 个字符：请拆分为派生事实",
    "expression with {0} operators, brackets and keywords (at most {1}): split it into derived facts":
        "表达式含 {0} 个运算符、括号和关键字（最多 {1} 个）：请拆分为派生事实",
    "expression nested more than {0} levels deep: split it into derived facts": "表达式嵌套超过 {0} 层：请拆分为派生事实",
    "gives {0}, but {1} is expected": "结果是{0}，但这里需要{1}",
    "{0} is not allowed in a rule expression": "规则表达式中不允许使用{0}",
    "unknown fact {0}{1}": "未知的事实 {0}{1}",
    "{0} is a table: use lookup({1}, key)": "{0} 是一张表：请用 lookup({1}, 键)",
    "cannot compute {0} {1} {2}{3}": "无法计算 {0} {1} {2}{3}",
    "the comparison {0} is not allowed (use == or !=)": "不允许比较运算{0}（请用 == 或 !=）",
    "'{0}' does not order true/false": "'{0}' 不能用于比较真/假的大小",
    "compare with null using given(x)": "与 null 比较请用 given(x)",
    "only the listed functions may be called (no methods or attributes)": "只能调用列出的函数（不能用方法或属性）",
    "functions take positional arguments only": "函数只接受按位置传入的参数",
    "unknown function {0}(){1}": "未知的函数 {0}(){1}",
    "lookup() takes a table, a key and optionally a column: lookup(table, key, 'column')":
        "lookup() 的参数是表、键，以及可选的列：lookup(表, 键, '列')",
    "lookup()'s first argument must be the name of a table": "lookup() 的第一个参数必须是表名",
    "lookup()'s key must be a single value, not {0}": "lookup() 的键必须是单个值，不能是{0}",
    "'{0}' needs a true/false condition, but {1} is {2}": "'{0}' 需要一个真/假条件，但 {1} 是{2}",
    "syntax error: {0}": "语法错误：{0}",
    "cannot be read: {0}": "无法读取：{0}",
    "brackets nested more than {0} deep: split it into derived facts": "括号嵌套超过 {0} 层：请拆分为派生事实",
    "gives {0}, but a whole number is expected": "结果是{0}，但这里需要整数",
    "a number of more than {0} digits is not allowed": "不允许超过 {0} 位的数字",
    "{0} is not below 10^{1}": "{0} 不小于 10^{1}",
    "names starting with '_' are not allowed: {0}": "不允许以 '_' 开头的名称：{0}",
    "'-' needs a number, not {0}": "'-' 需要数字，不能是{0}",
    "'{0}' works on whole numbers only, not {1} and {2}": "'{0}' 只适用于整数，不能用于{1}和{2}",
    "cannot multiply money by money": "金额不能乘以金额",
    "'in' needs a list on its right, not {0}": "'in' 的右边需要一个列表，不能是{0}",
    "{0} is not a value of {1} (allowed: {2})": "{0} 不是 {1} 的取值（可用：{2}）",
    "lookup()'s column must be a quoted column name": "lookup() 的列必须是加引号的列名",
    "table {0} has no column {1} (columns: {2})": "表 {0} 没有列 {1}（列：{2}）",
    "table {0} has columns: name one, lookup({1}, key, 'column')": "表 {0} 有多列：请指明一列，lookup({1}, 键, '列')",
    "cannot be computed: {0}": "无法计算：{0}",
    "{0} is not a number": "{0} 不是数字",
    "cannot divide {0} by money": "{0}不能除以金额",
    "{0} is not a date YYYY-MM-DD": "{0} 不是 YYYY-MM-DD 格式的日期",
    "the operator {0} is not allowed": "不允许运算符 {0}",
    "if() takes 3 arguments: if(condition, value when true, value when false), got {0}":
        "if() 需要 3 个参数：if(条件, 条件成立时的值, 条件不成立时的值)，实际有 {0} 个",
    # engine/language/functions.py
    "{0} mixes {1}": "{0}混用了{1}",
    "{0}() takes {1} arguments, got {2}": "{0}() 需要 {1} 个参数，实际有 {2} 个",
    "{0}() argument {1} must be {2}, not {3}": "{0}() 的第 {1} 个参数必须是{2}，不能是{3}",
    "{0}() takes a list or at least two values": "{0}() 需要一个列表或至少两个值",
    "coalesce() takes at least one value": "coalesce() 至少需要一个值",
    "{0}() takes a list of numbers, not {1}": "{0}() 需要一个数字列表，不能是{1}",
    "{0} working days is outside 0–{1}": "{0} 个工作日超出 0–{1} 的范围",
    # engine/errors.py
    "the file could not be loaded ({0}: {1})": "文件无法加载（{0}：{1}）",
    # engine/types.py: a value of the wrong type (a default, a parameter, a literal in `then`)
    "unsupported type {0}": "不支持的类型 {0}",
    "expected a date {0}": "应为日期 {0}",
    "expected a date-time {0} (China time)": "应为日期时间 {0}（中国时间）",
    "expected a number": "应为数字",
    "expected {0}": "应为{0}",
    "is too small: its first digit is more than {0} places after the point": "太小：第一位有效数字在小数点后 {0} 位以外",
    "expected text": "应为文本",
    "must be one of: {0}": "必须是以下之一：{0}",
    "is longer than {0} characters": "超过 {0} 个字符",
    "expected true or false": "应为 true 或 false",
    "expected a whole number": "应为整数",
    "money has at most two decimals (fen)": "金额最多两位小数（分）",
    "expected a list": "应为列表",
    "takes at most {0} items": "最多 {0} 项",
    "item {0}: {1}": "第 {0} 项：{1}",
    # engine/calendar.py
    "expected a list of dates or ranges 'YYYY-MM-DD..YYYY-MM-DD'": "应为日期或日期范围 'YYYY-MM-DD..YYYY-MM-DD' 的列表",
    "{0} is not inside the year {1}": "{0} 不在 {1} 年之内",
    "each year is `YYYY: {holidays: [...], workdays: [...]}`": "每一年应写成 `YYYY: {holidays: [...], workdays: [...]}`",
    "{0} is listed both as a holiday and a working day": "{0} 同时被列为节假日和工作日",
    "{0} is not a date YYYY-MM-DD or a range": "{0} 不是 YYYY-MM-DD 格式的日期或日期范围",
    # engine/tooling/check/findings.py
    "no generated case makes it fire ({0} valid cases tried)": "没有任何生成的案例能让它触发（已试 {0} 个有效案例）",
    "its condition holds on {0} cases, but never while it is in force (effective {1} to {2})":
        "它的条件在 {0} 个案例上成立，但都不在它的生效期内（生效期 {1} 至 {2}）",
    "{0}; closest case: all but `{1}` ({2})": "{0}；最接近的案例：只差 `{1}`（{2}）",
    "can never decide anything: on all {0} cases where its condition holds, {1}":
        "永远决定不了任何输出：在它条件成立的全部 {0} 个案例上，{1}",
    "an earlier row of table {0} ({1}) matches first": "表 {0} 中更早的一行（{1}）先匹配",
    "{0} (priority {1}) decides {2}": "{0}（优先级 {1}）决定了 {2}",
    "overlaps {0} (line {1}, same priority {2}) on {3}: on {4} cases both fire and disagree ({5}); "
    "{6} wins only because it is written first":
        "与 {0}（第 {1} 行，同为优先级 {2}）在 {3} 上重叠：有 {4} 个案例两者都触发且结果不同（{5}）；"
        "{6} 胜出只因为它写在前面",
    "{0}: {1} sets {2}, {3} sets {4}": "{0}：{1} 设为 {2}，{3} 设为 {4}",
    "{0} both set {1}, which takes one value (combine: unique / hit: unique): the decision fails on {2} cases":
        "{0} 都设定了只能取一个值的 {1}（combine: unique / hit: unique）：有 {2} 个案例无法决策",
    "gap: no rule sets {0} on {1} valid cases, and {2}": "缺口：在 {1} 个有效案例上没有规则设定 {0}，而{2}",
    "{0}: {1}: the decision fails on {2} cases": "{0}：{1}：有 {2} 个案例无法决策",
    "accept entry ({0}) matches no finding on the generated cases: remove it if the finding is gone":
        "accept 条目（{0}）在生成的案例上没有对应的发现：如果问题已不存在，请删除它",
    "accept entry (gap on {0}) matches no finding on the generated cases: remove it if the finding is gone":
        "accept 条目（{0} 上的缺口）在生成的案例上没有对应的发现：如果问题已不存在，请删除它",
}

# -- phrases the engine puts inside a message (a placeholder's whole value) ----------------------
PHRASES = {
    # what: the part of the rule file a message is about
    "the rule set": "规则集", "accept": "accept", "input {0}": "输入 {0}", "output {0}": "输出 {0}",
    "parameter {0}": "参数 {0}", "table {0}": "表 {0}", "stage {0}": "阶段 {0}", "rule {0}": "规则 {0}",
    "decision table {0}": "决策表 {0}", "input {0} default": "输入 {0} 的默认值", "input {0} {1}": "输入 {0} 的 {1}",
    "output {0} default": "输出 {0} 的默认值",
    # what a name already is
    "a built-in": "内置名称", "an input": "输入", "a parameter": "参数", "a table": "表", "a derived": "派生事实",
    "an output": "输出", "input": "输入", "parameter": "参数", "derived": "派生事实", "output": "输出",
    # types (engine.types.Type's str)
    "string": "文本", "enum": "枚举值", "integer": "整数", "decimal": "小数", "money": "金额", "date": "日期",
    "datetime": "日期时间", "boolean": "真/假值", "list": "列表", "null": "空值（null）", "any": "任意值",
    "list of {0}": "{0}列表", "table": "表",
    # engine.language: what is not allowed, what mixes types
    "attribute access (a.b)": "属性访问（a.b）", "indexing (a[b])": "下标（a[b]）", "lambda": "lambda",
    "'**'": "'**'", "a comprehension": "推导式", "a generator": "生成器", "a mapping": "映射", "a set": "集合",
    "'*'": "'*'", "':='": "':='", "f-strings": "f-字符串", "'is'": "'is'", "'is not'": "'is not'",
    "the list": "列表", "the expression": "该表达式", "the two branches of 'if … else'": "'if … else' 的两个分支",
    "the two values of if()": "if() 的两个值", "{0} and {1}": "{0}和{1}", "{0} or {1}": "{0}或{1}",
    "{0}()": "{0}()", "{0} to {1}": "{0} 到 {1}",
    # check: why a rule or an output
    "it has no default": "它没有默认值", "it is required": "它是必需的", "it is required when {0}": "在 {0} 时它是必需的",
    "unknown": "未知", "false": "不成立",
}

# -- what is wrong with an enum's values (engine.loading.compiler, after "{where}: ") ------------
PHRASES.update({
    "the enum code {0} is not text (quote it)": "枚举代码 {0} 不是文本（请加引号）",
    "an enum code is empty": "有一个枚举代码为空",
    "the enum code {0} is given twice": "枚举代码 {0} 出现了两次",
    "the enum code {0} needs a label, a text (not {1})": "枚举代码 {0} 需要一个标签（文本），不能是 {1}",
    "the label of {0} must be one line of at most {1} characters": "{0} 的标签必须是一行、最多 {1} 个字符",
    "the label {0} of {1} is also the label of {2}": "{1} 的标签 {0} 也是 {2} 的标签",
})
MESSAGES["{0}: an enum needs 'values', codes with their labels ({repair: 修理, return: 退货}) or a list of codes"] = \
    "{0}：枚举类型需要 'values'：代码及其标签（{repair: 修理, return: 退货}），或代码的列表"

# -- what the YAML parser (PyYAML) says after "YAML syntax: " -------------------------------------
PHRASES.update({
    "duplicate key {0}": "键 {0} 重复",
    "mapping values are not allowed here": "这里不能写映射的值（冒号后的内容；检查缩进，或给含冒号的文本加引号）",
    "mapping keys are not allowed here": "这里不能写映射的键",
    "sequence entries are not allowed here": "这里不能写列表项（检查缩进）",
    "could not find expected ':'": "找不到应有的 ':'",
    "expected <block end>, but found {0}": "缩进的块应在此结束，却遇到 {0}（检查缩进）",
    "expected ',' or ']', but got {0}": "应为 ',' 或 ']'，却是 {0}",
    "expected ',' or '}', but got {0}": "应为 ',' 或 '}'，却是 {0}",
    "expected the node content, but found {0}": "应为内容，却遇到 {0}",
    "expected a single document in the stream": "文件中只能有一个 YAML 文档",
    "expected alphabetic or numeric character, but found {0}": "应为字母或数字，却遇到 {0}",
    "expected a comment or a line break, but found {0}": "应为注释或换行，却遇到 {0}",
    "found character {0} that cannot start any token": "字符 {0} 不能出现在这里的开头",
    "found undefined alias {0}": "别名 {0} 未定义",
    "found unexpected end of stream": "文件意外结束（引号或括号未闭合？）",
    "found unknown escape character {0}": "未知的转义字符 {0}",
    "found unexpected document separator": "意外的文档分隔符",
    "found duplicate anchor {0}; first occurrence": "锚点 {0} 重复；第一次出现处",
    "found duplicate anchor; second occurrence": "锚点重复；第二次出现处",
})

# -- hints appended to a message, translated wherever they stand ---------------------------------
HINTS = {
    " — did you mean {0}?": "——是否想写 {0}？",
    " (allowed: {0})": "（可用：{0}）",
    " (use date(t) to compare a date-time with a date)": "（日期时间与日期比较时，请用 date(t)）",
    " (use add_hours / hours_between for date-times)": "（日期时间请用 add_hours / hours_between）",
}

LEVELS = {"error": "错误", "warning": "警告", "accepted": "已接受"}

_PLACEHOLDER = re.compile(r"\{(\d+)\}")
_WRAPPERS = ("{0} (in: {1})",)
"""Patterns around another message, tried first: the message inside would match its own pattern
with the wrapper's text taken for a value."""


def _regex(english: str) -> str:
    """A pattern's regular expression. A placeholder right after another one is a hint (HINTS: empty,
    or from its start to the end); any other takes the least text that lets the rest match."""
    parts = _PLACEHOLDER.split(english)  # literal, number, literal, …
    hint = "(?:" + "|".join(re.escape(_PLACEHOLDER.split(h)[0]) for h in HINTS) + ")"
    out = []
    for i, part in enumerate(parts):
        if i % 2 == 0:
            out.append(re.escape(part))
        elif i > 1 and parts[i - 1] == "":
            out.append(f"(?P<p{part}>{hint}.*?)?")
        else:
            out.append(f"(?P<p{part}>.*?)")
    return "".join(out)


@lru_cache(maxsize=1)
def _compiled():
    """(the messages' patterns, the phrases' patterns): wrappers first, then the most literal text
    first, so the most specific pattern wins."""
    def table(catalogue):
        keys = sorted(catalogue, key=lambda k: (k not in _WRAPPERS, -len(_PLACEHOLDER.sub("", k))))
        return [(re.compile(f"^{_regex(k)}$", re.DOTALL), catalogue[k]) for k in keys if _PLACEHOLDER.sub("", k)]
    return table(MESSAGES), table({**PHRASES, **HINTS})


def _fill(template: str, match: re.Match, depth: int) -> str:
    return _PLACEHOLDER.sub(lambda m: _phrase(match.group(f"p{m.group(1)}") or "", depth + 1), template)


def _phrase(value: str, depth: int) -> str:
    """A placeholder's value: a message or phrase the engine composed, translated; else as it is."""
    if depth > MAX_NESTING or not value:
        return value
    messages, phrases = _compiled()
    for pattern, template in (*messages, *phrases):
        if (m := pattern.match(value)) is not None:
            return _fill(template, m, depth)
    if "; " in value:  # a list of phrases (check's overlap values): each in turn
        return "；".join(_phrase(v, depth + 1) for v in value.split("; "))
    return value


def translate(message: str) -> str | None:
    """The Chinese of an English engine message, or None when the catalogue has no pattern for it."""
    for pattern, template in _compiled()[0]:
        if (m := pattern.match(message)) is not None:
            return _fill(template, m, 0)
    return None


def localize(message: str, lang: str) -> str:
    """`message` in `lang`: Chinese from the catalogue, English when untranslated or asked for."""
    if lang != "zh":
        return message
    return translate(message) or message


def problem_text(problem, lang: str) -> str:
    """A loader problem or a check finding as `str` shows it (`file:line…: level: [id] message`, a
    finding's example below), in `lang`."""
    text = str(problem)
    if lang != "zh":
        return text
    rule = f" [{problem.rule_id}]" if problem.rule_id else ""
    head = f": {problem.level}:{rule} {problem.message}"
    shown = f": {LEVELS.get(problem.level, problem.level)}:{rule} {localize(problem.message, lang)}"
    text = text.replace(head, shown, 1)
    for english, chinese in _FINDING_WORDS:
        text = text.replace(english, chinese, 1)
    return text


_FINDING_WORDS = (("\n    closest case (as_of ", "\n    最接近的案例（as_of "), ("\n    example (as_of ", "\n    示例（as_of "),
                  ("): {", "）：{"), (" (accepted: ", "（已接受："))


def language_from_env(environ=os.environ) -> str:
    """The CLI's language: AFTERSALES_LANG=zh|en, else LC_ALL or LANG starting with zh; else English."""
    chosen = environ.get("AFTERSALES_LANG", "").strip().lower()
    if chosen in LANGS:
        return chosen
    locale = environ.get("LC_ALL") or environ.get("LANG") or ""
    return "zh" if locale.lower().startswith("zh") else "en"


def language_from_accept(header: str | None) -> str:
    """The API's language from Accept-Language: Chinese when the language ranked first is zh-*."""
    best, best_q = "en", -1.0
    for part in (header or "")[:MAX_ACCEPT_LANGUAGE].split(","):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and q > best_q:  # the first of the highest rank
            best, best_q = tag.strip().lower(), q
    return "zh" if best.startswith("zh") else "en"
