"""grader/run_all: grade a whole class, every submission, every lab, isolated and in parallel.

    grader/run_all                          the reference solutions (exit 0 only at full marks)
    grader/run_all alice/ bob.zip carol.tar.gz
    grader/run_all --roster submissions/ --labs 3,4 --jobs 4 --out grades/
    grader/run_all --autolab handin.tar     last line: {"scores": {"lab1": n, ...}}

``grader/run_all`` (a short shell script) runs the setup step first, as ``make test``
does, then this package:

- ``intake``: submissions (folders, archives) unpacked safely and each lab staged;
- ``isolation`` (and ``init.sh``): the namespaces, the users reserved for the run,
  the gradings' environment;
- ``runs``: the grader's copy and the gradings (one grade.py per group of labs), whose
  results (``harness.results``) it reads back;
- ``formats``: each output one module, written from the results (``FORMATS``);
- ``main``: the command line and the order of all this.

Under ``--out`` (default ``build/grades``): ``gradebook.csv``, the class report
(``class.html``, ``checks.csv``, ``similarity.csv``: grader/classreport) and, per student,
``report.txt``, ``results.json`` (Gradescope's format) and ``junit.xml``.
"""
