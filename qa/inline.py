"""Inline markup out of prose: what a reader sees of a line of Markdown (and of the
markup Markdown sites add), shared by reading documents and showing answers."""

from __future__ import annotations

import re

_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.S)
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9:._-]*(?:\s+[^<>]*)?/?>")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[((?:[^\[\]]|\[[^\]]*\])+)\]\((?:[^()]|\([^)]*\))*\)")
_REF_LINK = re.compile(r"\[((?:[^\[\]]|\[[^\]]*\])+)\]\[[^\]]*\]")
_AUTOLINK = re.compile(r"<((?:https?|ftp|mailto):[^<>\s]+)>")
_ATTRIBUTES = re.compile(r"\s*\{:?\s*[#.][^{}]*\}\s*$", re.M)
# mdBook {{#include …}}, MkDocs/FastAPI {* … *}, Liquid/Jinja {% … %}, Hugo {{< … >}} {{% … %}}.
DIRECTIVE = re.compile(r"\{\{#[^}]*\}\}|\{\*.*?\*\}|\{%.*?%\}|\{\{[<%].*?[>%]\}\}")
_ESM = re.compile(r"^\s*(?:import\s.+\sfrom\s+['\"].+['\"]|import\s+['\"].+['\"]|export\s.+);?\s*$")
_EMPHASIS = re.compile(r"(?<![\w*])(\*\*|__|\*)(?=\S)(.+?)(?<=\S)\1(?![\w*])")
_CODE_SPAN = re.compile(r"`+([^`]*?)`+")
# Admonition markers (`///`, `:::`, `!!!`, `???`) anywhere: left out of what is searched.
_ANY_MARKER = re.compile(
    r"^[ \t>]*(?:/{3,}|:{3,}|!!!|\?\?\?\+?)[ \t]*(?:([A-Za-z][\w-]*)[ \t]*(?:\|[ \t]*)?(?:\"(.*)\"|(.*?)))?[ \t]*$", re.M
)


def clean_inline(text: str) -> str:
    """Prose without its markup: link targets, tags, comments, directives, attributes,
    admonition markers, emphasis and code ticks. What is inside `code` is kept as it is."""
    text = _COMMENT.sub(" ", text)
    text = DIRECTIVE.sub(" ", text)
    text = _ANY_MARKER.sub(lambda m: " ".join(g for g in m.groups() if g), text)
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _REF_LINK.sub(r"\1", text)
    text = _AUTOLINK.sub(r"\1", text)
    text = _ATTRIBUTES.sub("", text)
    pieces = _CODE_SPAN.split(text)  # prose, code, prose, code, ... (code without its ticks)
    text = "".join(piece if i % 2 else _EMPHASIS.sub(r"\2", _TAG.sub(" ", piece)) for i, piece in enumerate(pieces))
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line and not _ESM.match(line))
