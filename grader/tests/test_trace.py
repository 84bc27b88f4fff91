"""The trace from handout to check: every rule a handout states has a check, every check a rule.

Each lab that has checks (``grader/checks/test_labN.py``) has one table,
``grader/checks/rules/labN.toml`` (its format is in CONTRIBUTING.md, "How to add a check"):
a list of rules, each with an ``id``, the rule's ``words`` exactly as the handout
(``labs/labN/README.md``) states them, and the ``checks`` that enforce it.  This test fails when

- a rule's words are not in the handout (the table drifted from it), or a rule has no check;
- a rule cites a check that the lab does not have;
- a check of the lab is cited by no rule;
- a sentence of the handout's "The programs" section (each program's arguments, output
  lines, exit statuses and behaviour) belongs to no rule.
"""
import importlib
import pathlib
import re
import sys
import tomllib
import warnings

import pytest

from conftest import GRADER, ROOT

CHECKS = GRADER / "checks"
RULES = CHECKS / "rules"
LABS = sorted(int(p.stem[len("test_lab"):]) for p in CHECKS.glob("test_lab*.py"))


def normalized(text):
    """``text`` with every run of white space made one space (line breaks do not count)."""
    return re.sub(r"\s+", " ", text).strip()


def handout(lab):
    return (ROOT / "labs" / f"lab{lab}" / "README.md").read_text()


def rules(lab):
    path = RULES / f"lab{lab}.toml"
    assert path.exists(), f"lab {lab} has checks but no table of its rules: {path.relative_to(ROOT)}"
    return tomllib.loads(path.read_text()).get("rule", [])


def check_names(lab):
    """The names of lab ``lab``'s checks (``test_NAME`` functions of its module, lab 4's reused
    ones included), as the checklist and the mutants name them."""
    for path in (GRADER, CHECKS):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    with warnings.catch_warnings():  # the checks' marks are registered by their own plugin
        warnings.simplefilter("ignore", pytest.PytestUnknownMarkWarning)
        module = importlib.import_module(f"test_lab{lab}")
    return {name[len("test_"):] for name, obj in vars(module).items()
            if name.startswith("test_") and callable(obj)}


def programs_sentences(text):
    """The sentences of the handout's "The programs" section that state rules: the text of
    each bullet (code blocks inside a bullet included), cut at each full stop."""
    section = re.search(r"^## The programs\n(.*?)^## ", text, re.M | re.S)
    assert section, "the handout has no `## The programs` section"
    bullets, current = [], None
    for line in section.group(1).splitlines():
        if line.startswith("- "):
            current = [line[2:]]
            bullets.append(current)
        elif current is not None and line.startswith("  "):
            current.append(line.strip().strip("`") if line.strip().startswith("```") else line)
        elif line.strip():
            current = None
    sentences = []
    for bullet in bullets:
        body = normalized(" ".join(bullet))
        sentences += [s for s in re.split(r"(?<=\.)\s+(?=[A-Z`(])", body) if s]
    return sentences


@pytest.mark.parametrize("lab", LABS)
def test_every_rule_is_in_the_handout_and_has_a_check(lab):
    text = normalized(handout(lab))
    known = check_names(lab)
    ids = set()
    problems = []
    for rule in rules(lab):
        rid = rule.get("id", "?")
        if rid in ids:
            problems.append(f"{rid}: two rules have this id")
        ids.add(rid)
        words = normalized(rule.get("words", ""))
        if not words or words not in text:
            problems.append(f"{rid}: its words are not in labs/lab{lab}/README.md: {words!r}")
        if not rule.get("checks"):
            problems.append(f"{rid}: no check enforces it")
        for name in rule.get("checks", []):
            if name not in known:
                problems.append(f"{rid}: cites `{name}`, which is not a check of lab {lab}")
    assert problems == [], f"lab {lab}'s table of rules:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("lab", LABS)
def test_every_check_enforces_a_rule(lab):
    cited = {name for rule in rules(lab) for name in rule.get("checks", [])}
    orphans = sorted(check_names(lab) - cited)
    assert orphans == [], f"lab {lab}: checks that no rule of grader/checks/rules/lab{lab}.toml cites: {orphans}"


@pytest.mark.parametrize("lab", LABS)
def test_every_stated_rule_is_in_the_table(lab):
    words = [normalized(rule.get("words", "")) for rule in rules(lab)]
    untraced = []
    for sentence in programs_sentences(handout(lab)):
        rest = sentence
        for w in sorted(words, key=len, reverse=True):
            if w and w in rest:
                rest = rest.replace(w, " ")
            elif w and sentence in w:
                rest = ""
        if re.search(r"\w{3,}", rest):
            untraced.append(sentence)
    assert untraced == [], (f"lab {lab}: sentences of the handout's \"The programs\" section that "
                            f"no rule of grader/checks/rules/lab{lab}.toml holds:\n  "
                            + "\n  ".join(untraced))
