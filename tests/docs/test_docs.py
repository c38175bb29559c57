"""The README starts where users start, and the docs site builds strictly with everything a user needs.

Issue 40, point 5: a README under ~250 lines that opens with the set-up and test commands (.ci/run
runs exactly those), and docs/ built by mkdocs in --strict mode, so a broken link, anchor or page
fails here, not on a reader."""
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
SETUP = 'python3 -m pip install -e ".[all,dev]" -c constraints-cpu.txt'
TEST = "python3 -m pytest -q"


def slug(heading: str) -> str:
    """A heading's anchor as mkdocs' toc makes it (lower case, punctuation dropped, spaces to dashes)."""
    return re.sub(r"[\s]+", "-", re.sub(r"[^\w\s-]", "", heading.strip().lower()))


def test_the_docs_site_builds_strictly(tmp_path):
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # the theme's banner is not a build problem
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml"),
                        "--site-dir", str(tmp_path / "site")], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "site" / "index.html").is_file()
    assert (tmp_path / "site" / "configuration" / "index.html").is_file()


def test_every_docs_page_is_in_the_nav():
    nav = (ROOT / "mkdocs.yml").read_text()
    for page in DOCS.rglob("*.md"):
        assert str(page.relative_to(DOCS)) in nav, page


def test_the_readme_opens_with_the_two_commands_ci_runs_and_stays_short():
    text = README.read_text()
    blocks = re.findall(r"```bash\n(.*?)\n```", text, re.S)
    assert blocks[:2] == [SETUP, TEST]
    ci = (ROOT / ".ci" / "run").read_text()
    assert SETUP in ci and TEST in ci
    assert len(text.splitlines()) <= 250
    for link, anchor in re.findall(r"\]\((docs/[^)#]+)(?:#([^)]+))?\)", text):  # links into the docs exist
        assert (ROOT / link).is_file(), link
        if anchor:  # ... and so do their anchors (mkdocs checks the docs' own links, not the README's)
            headings = re.findall(r"^#+ (.+)$", (ROOT / link).read_text(), re.M)
            assert anchor in {slug(h) for h in headings}, f"{link}#{anchor}"
    assert re.search(r"!\[[^\]]*\]\(docs/images/[^)]+\.png\)", text)  # the picture `report` makes
    assert "mastune run" in text and "mastune eval" in text and "mastune report" in text and "mastune train" in text


def test_every_mastune_environment_variable_is_documented():
    used = set()
    for f in (ROOT / "src").rglob("*.py"):
        used |= set(re.findall(r"MASTUNE_[A-Z_]+[A-Z]", f.read_text()))
    doc = (DOCS / "configuration.md").read_text()
    assert used and {v for v in used if f"`{v}`" not in doc} == set()


def test_every_task_is_documented():
    from mastune.tasks.datasets.registry import REGISTRY

    doc = (DOCS / "tasks.md").read_text()
    for name, spec in REGISTRY.items():
        base = re.sub(r"-\d$", "", name)  # logical-deduction-3/-5/-7 share a row
        assert f"`{name}`" in doc or f"`{base}-" in doc, name
        assert spec.files[0].split("/")[0] in doc, name


def test_every_builtin_model_source_and_hash_is_documented():
    from mastune.models.registry import MODELS
    from mastune.llm.pool import Pool

    doc = (DOCS / "models.md").read_text()
    for m in MODELS.values():
        assert m.sha256 in doc and f"{m.size_bytes / 1e6:.0f} MB" in doc, m.name
        for part in (m.parts[0], m.parts[-1]):  # the first and last package of each model
            assert part.package.rsplit("-part", 1)[0] in doc and part.version in doc, part
    start = (DOCS / "getting-started.md").read_text()
    assert f"`{Pool.default().default_model}`" in start and "MASTUNE_CACHE_DIR" in start
