from catsort.cli import app

app(prog_name="catsort")
