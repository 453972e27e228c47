"""The README's MCP tool table is the tool table (``mcp.tools.TOOLS``), row by row."""

from __future__ import annotations

import re
from pathlib import Path

from kserve_functions.mcp import tools

README = Path(__file__).resolve().parents[2] / "README.md"


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _row(tool: tools.Tool) -> str:
    return (
        f"| `{tool.name}` | `{tool.method} {tool.path}` | {_yes(tool.read_only)} "
        f"| {_yes(tool.destructive)} | {_yes(tool.idempotent)} | {_yes(bool(tool.confirms))} |"
    )


def test_the_readmes_tool_table_is_the_tool_table() -> None:
    documented = re.findall(r"^\| `[a-z_]+` \| `[A-Z]+ /[^`]*` \|.*\|$", README.read_text(), re.M)

    assert documented == [_row(tool) for tool in tools.TOOLS]
