from comps._entry import run

run()
