from comps.cli import run

run()
