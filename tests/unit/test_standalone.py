"""The repository stands alone: nothing in it reads a folder beside it.

A ``git clone`` has no ``shared`` folder next to it, so neither the build, the
launcher, the benches nor the tests may name one: the upstream CRDs and
KServe's configuration come from the pinned Go modules (``controlplane.upstream``),
the seed baseline is ``bench/seed_fastapi/``. ``tests/integration/
test_launcher_lifecycle.py`` runs the launcher from a copy with no such folder.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from controlplane.cluster import REPO_ROOT

# Where the build, the launcher, the library, the functions, benches and tests live.
SCANNED = ("Makefile", "tools", "bench", "tests", "lib", "function", "functions")
# `../shared`, `shared/crds` (and the other folders it had), or a path built
# from the literal "shared" (`root.parent / "shared"`).
_SIBLING_FOLDER = re.compile(
    r"\.\./shared\b|\bshared/(?:crds|kserve|bench|seed)\b|[\"']shared[\"']"
)


def _files() -> list[Path]:
    """The scanned files git knows of (committed or not, minus the ignored)."""
    git = shutil.which("git")
    assert git is not None
    listed = subprocess.run(
        [git, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *SCANNED],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    return [REPO_ROOT / name for name in listed.decode().split("\0") if name]


def test_nothing_names_a_shared_folder_beside_the_repository() -> None:
    this_file = Path(__file__).resolve()
    found = []
    for path in _files():
        if path.resolve() == this_file or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # not text
        found += [
            f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}"
            for number, line in enumerate(text.splitlines(), start=1)
            if _SIBLING_FOLDER.search(line)
        ]
    assert found == []
