"""The ci-profile dashboard (Streamlit). Start it with ``ci-profile dashboard [--db PATH]``.

This entry script is layout only: it finds the database (``-- --db PATH`` after the script on
the ``streamlit run`` command line, else ``CI_PROFILE_DB``, else ``ci-profile.duckdb``), shows a
helpful page when there is nothing to show, draws the shared sidebar filters and hands over to
the page the user picked. Queries live in ``ci_profile.analysis`` (through
``ci_profile.dashboard.data``), figures in ``ci_profile.dashboard.charts``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import streamlit as st
from ci_profile.core import config
from ci_profile.dashboard import data, ui

HERE = Path(__file__).resolve().parent
PAGES = (
    ("page_overview.py", "Overview", ":material/dashboard:", "overview"),
    ("page_breakdown.py", "Breakdown", ":material/stacked_bar_chart:", "breakdown"),
    ("page_timeline.py", "Run timeline", ":material/view_timeline:", "timeline"),
    ("page_bottlenecks.py", "Bottlenecks", ":material/hourglass_bottom:", "bottlenecks"),
    ("page_opportunities.py", "Opportunities", ":material/savings:", "opportunities"),
    ("page_data.py", "Data", ":material/database:", "data"),
)


def database_path(argv: list[str]) -> str:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--db", default=None)
    known, _ = parser.parse_known_args(argv)
    path = config.db_path(known.db)
    return path if path == ":memory:" else str(Path(path).expanduser().resolve())


def main() -> None:
    st.set_page_config(page_title="ci-profile", page_icon=":material/timer:", layout="wide")
    db = database_path(sys.argv[1:])
    problem = data.problem(db)
    if problem is not None:
        ui.show_problem(problem)
        return
    status = ui.fetch(db, "status")
    options = ui.fetch(db, "options")
    scope = ui.sidebar_filters(options)
    st.sidebar.caption(f"Database: `{db}`")
    ui.set_context(ui.Context(db=db, scope=scope, options=options, status=status))
    pages = [
        st.Page(HERE / file, title=title, icon=icon, url_path=url, default=index == 0)
        for index, (file, title, icon, url) in enumerate(PAGES)
    ]
    st.navigation(pages).run()


if __name__ == "__main__":
    main()
