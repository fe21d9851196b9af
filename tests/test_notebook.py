"""The walkthrough notebook: committed executed (a reader sees tables and a chart without
running it), and it still runs top to bottom against the public API with the build's figures."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from comps.report import fmt
from comps.report.story import verdict_sentence

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "01_cerebras_comps.ipynb"


def _outputs(nb):
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


def test_the_committed_notebook_shows_its_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None and c.outputs for c in code)
    kinds = {k for o in _outputs(nb) for k in o.get("data", {})}
    assert {"image/png", "text/html"} <= kinds  # an inline chart and formatted tables
    assert not [o for o in _outputs(nb) if o.output_type == "error"]


@pytest.mark.slow
def test_the_notebook_runs_and_agrees_with_the_build(offline_result):
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    assert not [o for o in _outputs(nb) if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in _outputs(nb) if o.output_type == "stream")
    assert verdict_sentence(offline_result) in text
    assert f"chosen: {offline_result.chosen}" in text
    sv = offline_result.specs[offline_result.chosen]
    assert f"discount {sv.discount.discount:5.1%}  break-even price {fmt.usd(sv.breakeven())}" in text
    assert any("image/png" in o.get("data", {}) for o in _outputs(nb))
