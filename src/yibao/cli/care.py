"""``yibao care``: run the internet-care scenes (demo)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

care_app = typer.Typer(
    help="互联网医疗 internet care (follow-up, credit, consultation, capitation, 一单制)",
    no_args_is_help=True,
)


@care_app.command("demo")
def demo(
    db_file: Annotated[Path, typer.Option(help="SQLite file to create (replaced)")] = Path(
        ".yibao/care-demo.db"
    ),
    region: Annotated[str, typer.Option(help="example region")] = "xian",
) -> None:
    """Run each scene once and print what it produced."""
    from yibao.demo.care import demo_db, run_care_demo

    rows = run_care_demo(demo_db(db_file), region=region)
    t = Table("场景 scene", "结果 outcome", title="互联网医疗演示 internet care demo")
    for scene, outcome in rows:
        t.add_row(scene, outcome)
    Console().print(t)
