"""The JSONC parser and splicer: values, positions, errors, and edits that leave the rest of
the text byte-for-byte alone."""

from __future__ import annotations

import json

import pytest

from crossway.integrations import jsonc


def test_parses_comments_trailing_commas_and_comment_like_strings() -> None:
    text = ('// head\n{\n  "a": "x // not a comment /* nor this */", /* c */\n'
            '  "b": [1, 2.5, -3e2, true, false, null,],\n  "c": {"d": "\\u00e9\\n",},\n}\n')
    root = jsonc.parse(text)
    assert root is not None
    assert root.value == {"a": "x // not a comment /* nor this */",
                          "b": [1, 2.5, -300.0, True, False, None], "c": {"d": "é\n"}}
    b = root.member("b")
    assert b is not None and text[b.value.start:b.value.end] == "[1, 2.5, -3e2, true, false, null,]"


def test_only_comments_or_whitespace_is_no_document() -> None:
    assert jsonc.parse("") is None
    assert jsonc.parse("  \n// nothing yet\n/* still nothing */\n") is None


def test_duplicate_keys_last_wins() -> None:
    root = jsonc.parse('{"a": 1, "a": 2}')
    assert root is not None and root.value == {"a": 2}
    m = root.member("a")
    assert m is not None and m.value.value == 2


@pytest.mark.parametrize(("text", "line", "column", "words"), [
    ('{\n  "a": 1\n  "b": 2\n}', 3, 3, "expected ','"),
    ('{\n  "a": tru\n}', 2, 8, "unexpected character"),
    ('{"a": "no end\n}', 1, 7, "unterminated string"),
    ('{\n  /* open\n', 2, 3, "unterminated /* comment"),
    ("{'a': 1}", 1, 2, "double-quoted key"),
    ('{"a": 1} {"b": 2}', 1, 10, "after the top-level value"),
    ('{"a": 1', 1, 8, "expected ','"),
])
def test_errors_name_line_and_column(text: str, line: int, column: int, words: str) -> None:
    with pytest.raises(jsonc.JsoncError) as info:
        jsonc.parse(text)
    assert (info.value.line, info.value.column) == (line, column), str(info.value)
    assert words in str(info.value)
    assert f"line {line}, column {column}" in str(info.value)


def _set(text: str, key: str, value: object) -> str:
    root = jsonc.parse(text)
    assert root is not None
    return jsonc.set_member(text, root, key, value, jsonc.indent_unit(text, root))


def test_replace_keeps_everything_around_the_value() -> None:
    text = '{\n  // keep\n  "a": {"old": [1,2,]}, // note\n  "b": 2,\n}\n'
    out = _set(text, "a", {"new": True, "nested": {"x": [1]}})
    assert out == ('{\n  // keep\n  "a": {\n    "new": true,\n    "nested": {\n      "x": [1]\n'
                   '    }\n  }, // note\n  "b": 2,\n}\n')


def test_append_after_comment_keeps_comment_with_its_member() -> None:
    out = _set('{\n  "a": 1 // about a\n}\n', "b", [1])
    assert out == '{\n  "a": 1, // about a\n  "b": [1]\n}\n'
    assert json.loads(out.replace("// about a", "")) == {"a": 1, "b": [1]}


def test_append_keeps_trailing_comma_style_and_tab_indent() -> None:
    out = _set('{\n\t"a": 1,\n}', "b", {"c": {"d": 1}})
    assert out == '{\n\t"a": 1,\n\t"b": {\n\t\t"c": {"d": 1}\n\t},\n}'


def test_render_inlines_short_scalar_containers_only() -> None:
    assert jsonc.render({"a": [1, 2], "b": {}}, "", "  ") == '{\n  "a": [1, 2],\n  "b": {}\n}'
    long = {"k": "x" * 80}
    assert jsonc.render(long, "    ", "  ") == '{\n      "k": "' + "x" * 80 + '"\n    }'
    assert json.loads(jsonc.render({"m": [{"a": 1}, [2, [3]]]}, "", "\t")) == \
        {"m": [{"a": 1}, [2, [3]]]}


def test_append_to_empty_and_one_line_objects() -> None:
    assert _set("{}", "a", 1) == '{\n  "a": 1\n}'
    assert _set('{ /* empty */ }', "a", 1) == '{\n  "a": 1 /* empty */ }'
    assert _set('{ // none yet\n}', "a", 1) == '{\n  "a": 1 // none yet\n}'
    assert _set('{"a": 1}', "b", 2) == '{"a": 1, "b": 2}'
    assert _set('{"a": 1,}', "b", 2) == '{"a": 1, "b": 2,}'
