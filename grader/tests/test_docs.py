"""The readers' side: both Doxygen sites build with zero warnings and hold together.

- `Doxyfile` (the full site) and `Doxyfile.student` build without one warning;
- every tutorial chapter, the glossary, the labs index and every lab handout that
  exists (labs/labN/README.md) is a page of the site; the full site documents every
  reference program, the student site every skeleton;
- no internal link is broken: every href (and the tree view's links) names a file
  of the site, and its #anchor exists there;
- the student site holds no reference solution code: no line of a
  `$begin solution` block that the skeleton lacks appears anywhere in it.

Both sites are built once per session into a temporary directory (docs/html is
left alone), in parallel.
"""
import concurrent.futures
import html.parser
import pathlib
import re
import shutil
import subprocess
import sys
import urllib.parse

import pytest

from conftest import ROOT
from harness.registry import LABS as REGISTRY

sys.path.insert(0, str(ROOT / "tools"))
from skeletons import BEGIN, END  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("doxygen") is None or shutil.which("dot") is None,
                                reason="Doxygen and Graphviz are missing (run: make setup-docs)")

CHAPTERS = ["ch_client_server", "ch_sockets", "ch_addresses", "ch_byte_order", "ch_tcp_server",
            "ch_tcp_client", "ch_streams", "ch_echo_server", "ch_tcp_udp", "ch_udp",
            "ch_protocols", "ch_winsock"]
PAGES = ["index", "tutorial", "labs", "glossary", "contributing", "contract"] + CHAPTERS
# Each topic the issue asks for, and the section (anchor) of the chapter that teaches it.
TOPICS = {
    "client/server model": ("ch_client_server", "cs_roles"),
    "what a socket is": ("ch_sockets", "so_fd"),
    "IP and port": ("ch_addresses", "ad_pair"),
    "byte order, htons/ntohs": ("ch_byte_order", "bo_network"),
    "server flow": ("ch_tcp_server", "tcp_flow"),
    "listening versus connection socket": ("ch_tcp_server", "tcp_two_sockets"),
    "the backlog": ("ch_tcp_server", "tcp_backlog"),
    "SO_REUSEADDR and TIME_WAIT": ("ch_tcp_server", "tcp_reuseaddr"),
    "client flow": ("ch_tcp_client", "cli_flow"),
    "partial reads and the loop": ("ch_streams", "st_read_loop"),
    "iterative echo server": ("ch_echo_server", "echo_shape"),
    "TCP versus UDP": ("ch_tcp_udp", "tu_two"),
    "UDP uppercase server and flow": ("ch_udp", "udp_flow"),
    "UDP loss and the timeout": ("ch_udp", "udp_loss"),
    "UDP truncation": ("ch_udp", "udp_truncation"),
    "application protocol, framing": ("ch_protocols", "pr_framing"),
    "Winsock differences": ("ch_winsock", "ws_same"),
}
LABS = [n for n in REGISTRY if (ROOT / "labs" / f"lab{n}" / "README.md").exists()]


def build(doxyfile, out):
    """Run Doxygen on ``doxyfile`` with its output in ``out``; return (returncode, warnings)."""
    config = out.parent / f"{out.name}.doxy"
    config.write_text(f"@INCLUDE = {doxyfile}\nOUTPUT_DIRECTORY = {out}\nWARN_LOGFILE =\n")
    proc = subprocess.run(["doxygen", str(config)], cwd=ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=300)
    return proc.returncode, proc.stderr.strip()


@pytest.fixture(scope="session")
def sites(tmp_path_factory):
    """Both sites built once: {"full": (rc, warnings, html dir), "student": ...}."""
    root = tmp_path_factory.mktemp("docs")
    jobs = {"full": "Doxyfile", "student": "Doxyfile.student"}
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        futures = {name: pool.submit(build, ROOT / doxyfile, root / name)
                   for name, doxyfile in jobs.items()}
        return {name: (*f.result(), root / name / "html") for name, f in futures.items()}


class Page(html.parser.HTMLParser):
    """The links, anchors and text of one HTML page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links, self.anchors, self.text = [], set(), []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name"):
            if attrs.get(key):
                self.anchors.add(attrs[key])
        for key in ("href", "src"):
            if attrs.get(key):
                self.links.append(attrs[key])

    def handle_data(self, data):
        self.text.append(data)


def parse(path):
    page = Page()
    page.feed(path.read_text(encoding="utf-8", errors="replace"))
    return page


@pytest.fixture(scope="session")
def parsed(sites):
    """{site: {file name: Page}} for every HTML file of each site."""
    return {name: {p.name: parse(p) for p in html_dir.glob("*.html")}
            for name, (_, _, html_dir) in sites.items()}


@pytest.mark.parametrize("site", ["full", "student"])
def test_builds_without_warnings(site, sites):
    rc, warnings, html_dir = sites[site]
    assert warnings == "", f"Doxygen warnings ({site} site):\n{warnings}"
    assert rc == 0
    assert (html_dir / "index.html").exists()


@pytest.mark.parametrize("site", ["full", "student"])
def test_every_chapter_and_lab_page_exists(site, parsed):
    pages = parsed[site]
    missing = [p for p in PAGES + [f"lab{n}" for n in LABS] if f"{p}.html" not in pages]
    assert missing == [], f"pages missing from the {site} site: {missing}"
    labs_index = "".join(pages["labs.html"].text)
    for n in LABS:
        assert f"lab{n}.html" in pages["labs.html"].links, f"labs page does not link lab {n}"
    assert "Lab 6" in labs_index
    for chapter in CHAPTERS:
        assert f"{chapter}.html" in pages["tutorial.html"].links, f"tutorial does not link {chapter}"


@pytest.mark.parametrize("topic", TOPICS)
def test_every_topic_has_its_section(topic, parsed):
    page, anchor = TOPICS[topic]
    assert anchor in parsed["full"][f"{page}.html"].anchors, f"{page}: no section #{anchor}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_chapter_ends_with_its_lab(chapter, parsed):
    text = " ".join("".join(parsed["full"][f"{chapter}.html"].text).split())
    practise = text.rfind("Practise it")
    assert practise >= 0, f"{chapter} has no 'Practise it' section"
    assert re.search(r"\bLab \d", text[practise:]), f"{chapter}: its last section names no lab"


@pytest.mark.parametrize("site", ["full", "student"])
def test_every_program_file_has_its_page(site, parsed):
    folder = "solutions" if site == "full" else "labs"
    for source in sorted((ROOT / folder).glob("lab*/*.c")):
        name = source.name.replace("_", "__").replace(".c", "_8c.html")
        assert name in parsed[site], f"{site} site: no page for {source.relative_to(ROOT)}"
        assert name.replace(".html", "_source.html") in parsed[site], f"no source page of {source.name}"


def tree_links(html_dir):
    """The page links of the tree view, which live in its .js files, not in any href."""
    links = []
    for js in html_dir.glob("*.js"):
        links += re.findall(r'"([A-Za-z0-9_.-]+\.html(?:#[A-Za-z0-9_.:-]*)?)"', js.read_text())
    return links


@pytest.mark.parametrize("site", ["full", "student"])
def test_no_broken_internal_link(site, sites, parsed):
    html_dir, pages = sites[site][2], parsed[site]
    broken = []
    for name, page in sorted(pages.items()):
        for link in page.links + (tree_links(html_dir) if name == "index.html" else []):
            url = urllib.parse.urlsplit(link)
            if url.scheme or url.netloc or link.startswith(("javascript:", "mailto:")):
                continue
            target = name if url.path == "" else urllib.parse.unquote(url.path)
            if not (html_dir / target).exists():
                broken.append(f"{name}: {link} (no file {target})")
            elif url.fragment and target.endswith(".html"):
                anchors = pages[target].anchors if target in pages else set()
                if url.fragment not in anchors:
                    broken.append(f"{name}: {link} (no anchor #{url.fragment} in {target})")
    assert broken == [], f"{len(broken)} broken link(s) in the {site} site:\n" + "\n".join(broken[:30])


def code_of(line):
    """A C line without its trailing comment, whitespace-normalised."""
    return " ".join(re.sub(r"\s*(/\*.*|//.*)$", "", line).split())


def solution_lines():
    """Each solution line (code only, normalised) of a $begin block that no student file has.

    A line that a skeleton or a handout gives away (a later lab hands out what an
    earlier one taught, such as lab 4's socket call) is no secret, and is left out.
    """
    given = {code_of(l) for skeleton in (ROOT / "labs").glob("lab*/*.c")
             for l in skeleton.read_text().splitlines()}
    handouts = " ".join(" ".join(h.read_text().split()) for h in (ROOT / "labs").glob("lab*/*.md"))
    lines = set()
    for solution in (ROOT / "solutions").glob("lab*/*.c"):
        inside = False
        for line in solution.read_text().splitlines():
            if BEGIN.match(line):
                inside = True
            elif END.match(line):
                inside = False
            elif inside:
                code = code_of(line)
                # Short lines (`}`, `return 0;`, `break;`) prove nothing: keep real code only.
                if len(code) >= 16 and not code.startswith(("/*", "*")) and not code.endswith("*/") \
                        and code not in given \
                        and code not in handouts:
                    lines.add(code)
    return lines


def occurs(line, text):
    """Whether the code line occurs in text as a whole statement (not inside a longer name)."""
    return re.search(r"(?<![\w.>-])" + re.escape(line), text) is not None


def test_solution_lines_are_recognised(parsed):
    """The next test is only meaningful if the full site does show the solution lines."""
    lines = solution_lines()
    assert len(lines) > 30, sorted(lines)
    text = " ".join(" ".join("".join(p.text) for p in parsed["full"].values()).split())
    found = [l for l in lines if occurs(l, text)]
    assert len(found) > len(lines) * 0.9, "the full site lacks most solution lines: check the test"


def test_fast_filter_agrees_with_the_python_filter():
    for path in sorted((ROOT / "solutions").glob("lab*/*.c")) + sorted((ROOT / "docs").glob("*.md")):
        fast = subprocess.run([str(ROOT / "tools" / "doxygen_filter.sh"), str(path)], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True, check=True).stdout
        slow = subprocess.run([sys.executable, str(ROOT / "tools" / "doxygen_filter.py"), str(path)],
                              cwd=ROOT, stdout=subprocess.PIPE, text=True, check=True).stdout
        assert fast == slow, f"the two filters disagree on {path.relative_to(ROOT)}"


@pytest.mark.parametrize("site", ["full", "student"])
def test_no_skeleton_marker_shown(site, parsed):
    shown = [name for name, page in parsed[site].items() if name != "contributing.html"
             and re.search(r"\$(begin solution|end solution|skeleton:)", "".join(page.text))]
    assert shown == [], f"skeleton markers shown on: {shown}"


def test_student_site_has_no_solution_code(sites, parsed):
    html_dir = sites["student"][2]
    text = " ".join(" ".join("".join(p.text) for p in parsed["student"].values()).split())
    scripts = " ".join(js.read_text() for js in html_dir.rglob("*.js"))
    leaked = sorted(l for l in solution_lines() if occurs(l, text) or occurs(l, scripts))
    assert leaked == [], "the student site shows reference solution code:\n" + "\n".join(leaked[:20])
    assert not list(html_dir.glob("*solutions*")), "a page named after solutions/"
