"""``STUDENT/junit.xml``: one ``testsuite`` per lab, one ``testcase`` per check (JUnit XML)."""
import xml.etree.ElementTree as ET

from harness.results import write_whole


def suite(n, lab):
    """Lab ``n``'s results (a LabResult) as a <testsuite>."""
    checks = lab.checks
    element = ET.Element("testsuite", name=f"lab{n}", tests=str(len(checks)),
                         failures=str(sum(c.status == "failed" for c in checks)), errors="0",
                         skipped=str(sum(c.status == "skipped" for c in checks)),
                         time=f"{sum(c.duration for c in checks):.3f}")
    for check in checks:
        case = ET.SubElement(element, "testcase", classname=f"test_lab{n}", name=check.name,
                             time=f"{check.duration:.3f}")
        if check.status == "skipped":
            ET.SubElement(case, "skipped", message=check.title).text = check.output
        elif not check.passed:
            ET.SubElement(case, "failure", message=check.title).text = check.output
    return element


def text(sub, labs):
    root = ET.Element("testsuites", name=sub.name)
    root.extend(suite(n, sub.results[n]) for n in labs)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write(grades):
    for sub in grades.subs:
        write_whole(grades.out / sub.name / "junit.xml", text(sub, grades.labs))
