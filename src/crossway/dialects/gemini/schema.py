"""JSON Schema -> the OpenAPI 3.0 subset Gemini accepts in functionDeclarations.parameters
and generationConfig.responseSchema.

Gemini parses `parameters` as its Schema message, so any other keyword fails the whole
request with 400 `Invalid JSON payload received. Unknown name "additionalProperties" at
'tools[0].function_declarations[0].parameters': Cannot find field.` (MCP servers and zod
emit $schema, additionalProperties, exclusiveMinimum, const, propertyNames, ...). Semantic
checks follow: `format` on strings only `enum` / `date-time`, ARRAY needs `items`, `required`
names must be declared properties, `type` is one name, not a list. `$ref` is inlined from
`$defs` / `definitions` (the Developer API has no references), unions become `anyOf`.
"""

from __future__ import annotations

from typing import Any

# Schema fields the Gemini Developer API knows (ai.google.dev/api Schema; google-genai's
# Schema minus the Vertex-only additional_properties / defs / ref).
_KEEP_AS_IS = frozenset((
    "title", "description", "nullable", "pattern", "propertyOrdering",
    "minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties",
    "minimum", "maximum",
))  # fmt: skip
_TYPES = {
    "string": "STRING",
    "number": "NUMBER",
    "integer": "INTEGER",
    "boolean": "BOOLEAN",
    "array": "ARRAY",
    "object": "OBJECT",
}
_FORMATS = {
    "STRING": frozenset(("enum", "date-time")),
    "NUMBER": frozenset(("float", "double")),
    "INTEGER": frozenset(("int32", "int64")),
}
# References nested deeper than this are cut (recursive schemas such as a tree node).
_MAX_DEPTH = 24


class _Cleaner:
    __slots__ = ("_defs", "_expanding")

    def __init__(self, root: dict[str, Any]) -> None:
        defs: dict[str, Any] = {}
        for key in ("definitions", "$defs"):
            value = root.get(key)
            if isinstance(value, dict):
                defs.update(value)
        self._defs = defs
        self._expanding: list[str] = []

    def clean(self, node: object, depth: int = 0) -> dict[str, Any]:
        if not isinstance(node, dict) or depth > _MAX_DEPTH:
            return {"type": "STRING"}  # `true` schemas and cut recursion: any value, as text
        ref = node.get("$ref")
        if isinstance(ref, str):
            return self._inline(ref, node, depth)
        node = _merge_all_of(node)
        out: dict[str, Any] = {}
        union = node.get("anyOf") if "anyOf" in node else node.get("oneOf")
        if isinstance(union, list) and union:
            self._union(union, out, depth)
        types = _types(node)
        if "null" in types:
            out["nullable"] = True
            types = [t for t in types if t != "null"]
        if len(types) > 1 and "anyOf" not in out:
            out["anyOf"] = [self.clean({**node, "type": t}, depth + 1) for t in types]
            return _describe(out, node)
        gtype = _TYPES.get(types[0]) if types else _implied_type(node) or out.get("type")
        if gtype is None and "anyOf" not in out:
            # Gemini: `type: must be specified when not using one_of, any_of or all_of
            # fields`. An unconstrained value ({} or a description alone) travels as text.
            gtype = "STRING"
        if gtype is not None:
            out["type"] = gtype
        self._copy(node, out, gtype, depth)
        return out

    def _inline(self, ref: str, node: dict[str, Any], depth: int) -> dict[str, Any]:
        name = ref.rsplit("/", 1)[-1]
        target = self._defs.get(name)
        if not isinstance(target, dict) or name in self._expanding:
            # Unknown or recursive reference: an untyped object the model can still fill.
            return _describe({"type": "OBJECT"}, node)
        self._expanding.append(name)
        try:
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            return self.clean({**target, **siblings}, depth + 1)
        finally:
            self._expanding.pop()

    def _union(self, union: list[Any], out: dict[str, Any], depth: int) -> None:
        variants = []
        for v in union:
            if isinstance(v, dict) and v.get("type") == "null" and len(v) == 1:
                out["nullable"] = True
            else:
                variants.append(self.clean(v, depth + 1))
        if len(variants) == 1:
            out.update(variants[0])
        elif variants:
            out["anyOf"] = variants

    def _copy(
        self, node: dict[str, Any], out: dict[str, Any], gtype: str | None, depth: int
    ) -> None:
        for key in _KEEP_AS_IS:
            value = node.get(key)
            if value is not None and key not in out:
                out[key] = value
        if "minimum" not in out and isinstance(node.get("exclusiveMinimum"), int | float):
            out["minimum"] = node["exclusiveMinimum"]
        if "maximum" not in out and isinstance(node.get("exclusiveMaximum"), int | float):
            out["maximum"] = node["exclusiveMaximum"]
        fmt = node.get("format")
        if isinstance(fmt, str) and gtype is not None and fmt in _FORMATS.get(gtype, ()):
            out["format"] = fmt
        _enum(node, out, gtype)
        if gtype == "OBJECT":
            self._object(node, out, depth)
        elif gtype == "ARRAY":
            items = node.get("items")
            if isinstance(items, list):  # tuple form: the first item's schema stands for all
                items = items[0] if items else None
            # Gemini requires `items` on ARRAY; an unconstrained array is sent as strings.
            out["items"] = self.clean(items if isinstance(items, dict) else {}, depth + 1)

    def _object(self, node: dict[str, Any], out: dict[str, Any], depth: int) -> None:
        props = node.get("properties")
        if isinstance(props, dict) and props:
            out["properties"] = {
                str(name): self.clean(sub, depth + 1) for name, sub in props.items()
            }
        required = node.get("required")
        if isinstance(required, list):
            declared = out.get("properties", {})
            names = [r for r in required if isinstance(r, str) and r in declared]
            if names:
                out["required"] = names
        if "propertyOrdering" in out:
            declared = out.get("properties", {})
            order = [p for p in out["propertyOrdering"] if isinstance(p, str) and p in declared]
            if order:
                out["propertyOrdering"] = order
            else:
                del out["propertyOrdering"]


def _types(node: dict[str, Any]) -> list[str]:
    t = node.get("type")
    if isinstance(t, str):
        return [t]
    if isinstance(t, list):
        return [x for x in t if isinstance(x, str) and (x in _TYPES or x == "null")]
    return []


def _implied_type(node: dict[str, Any]) -> str | None:
    if isinstance(node.get("properties"), dict):
        return "OBJECT"
    if "items" in node:
        return "ARRAY"
    if "enum" in node or "const" in node:
        return "STRING"
    return None


def _merge_all_of(node: dict[str, Any]) -> dict[str, Any]:
    """`allOf` of object schemas (zod intersections, pydantic inheritance) merged into one."""
    parts = node.get("allOf")
    if not isinstance(parts, list) or not all(isinstance(p, dict) for p in parts):
        return node
    merged: dict[str, Any] = {k: v for k, v in node.items() if k != "allOf"}
    props: dict[str, Any] = dict(merged.get("properties") or {})
    required: list[Any] = list(merged.get("required") or [])
    for part in parts:
        for key, value in part.items():
            if key == "properties" and isinstance(value, dict):
                props.update(value)
            elif key == "required" and isinstance(value, list):
                required.extend(value)
            else:
                merged.setdefault(key, value)
    if props:
        merged["properties"] = props
    if required:
        merged["required"] = list(dict.fromkeys(required))
    return merged


def _enum(node: dict[str, Any], out: dict[str, Any], gtype: str | None) -> None:
    values = node.get("enum")
    if "const" in node:
        values = [node["const"]]
    if not isinstance(values, list):
        return
    if None in values:
        out["nullable"] = True
    kept = [v for v in values if v is not None]
    if gtype == "STRING" and all(isinstance(v, str) for v in kept) and kept:
        out["enum"] = kept
    elif kept:
        # Gemini's enum holds strings only: keep numeric choices as words for the model.
        choices = ", ".join(str(v) for v in kept)
        _describe(out, {"description": f"One of: {choices}."})


def _describe(out: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    extra = node.get("description")
    if isinstance(extra, str) and extra:
        have = out.get("description")
        out["description"] = f"{have} {extra}" if isinstance(have, str) and have else extra
    return out


def clean_schema(schema: object) -> dict[str, Any]:
    """Any JSON Schema -> Gemini's Schema subset (a new dict; the input is not modified)."""
    if not isinstance(schema, dict):
        return {}
    return _Cleaner(schema).clean(schema)


def clean_parameters(schema: object) -> dict[str, Any] | None:
    """A tool's input schema as functionDeclarations.parameters; None for a tool without
    parameters (Gemini rejects an OBJECT with empty properties: `should be non-empty for
    OBJECT type`)."""
    cleaned = clean_schema(schema)
    if not cleaned.get("properties"):
        return None
    cleaned["type"] = "OBJECT"
    return cleaned
