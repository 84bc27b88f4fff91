"""class.html: the numbers of data.py and the pairs of similarity.py through a jinja2
template (templates/class.html.j2), with matplotlib's histograms embedded as inline SVG.
The page needs nothing but itself: no network, no file beside it but the students' reports
it links to."""
import io
import pathlib
import re

TEMPLATES = pathlib.Path(__file__).resolve().parent / "templates"


def histogram(stats):
    """A lab's score histogram as an inline <svg> element (text kept as text: small)."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    matplotlib.rcParams["svg.fonttype"] = "none"
    matplotlib.rcParams["svg.hashsalt"] = f"lab{stats.lab}"
    fig = Figure(figsize=(3.6, 2.0), dpi=72)
    ax = fig.add_subplot()
    bins = list(range(0, 101, 10))
    ax.hist([min(100.0, max(0.0, x)) for x in stats.scores], bins=bins, color="#3b6ea8",
            edgecolor="white")
    ax.axvline(stats.median, color="#c0392b", linewidth=1.5, label=f"median {stats.median:g}")
    ax.set_xlim(0, 100)
    ax.set_xlabel("score", fontsize=8)
    ax.set_ylabel("students", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=7, frameon=False, loc="upper left")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout(pad=0.3)
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]  # no XML prolog or DOCTYPE inside HTML
    # Each figure's ids apart from the others' (clip paths are referenced by id).
    return re.sub(r'\b(id="|url\(#|href="#)([A-Za-z0-9_]+)', rf"\g<1>l{stats.lab}\g<2>", svg)


def page(context):
    """The HTML text of class.html."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                             autoescape=jinja2.select_autoescape(["html", "j2"]),
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters["g"] = lambda x: f"{x:g}"
    return env.get_template("class.html.j2").render(**context)
