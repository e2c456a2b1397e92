"""A Vega-Lite chart that is compiled once and then only fed data.

The dashboard redraws every chart at each change of a measure. Solara's ``VegaLite`` widget
recompiles the whole spec for that, after a 100 ms wait, which at full city took most of the
time from a slider change to redrawn charts. This widget keeps the compiled chart (a Vega view)
and hands a new run's values to the layout's named data sets, so Vega only re-runs its dataflow.
A new layout (another language, a pinned run drawn in) is compiled anew.
"""

from __future__ import annotations

from pathlib import Path

import ipyvuetify as v
import traitlets


class VegaChart(v.VuetifyTemplate):
    """A chart: a Vega-Lite ``chart_layout`` whose data are named (``{"name": ...}``) and
    ``chart_data``, the values of each name. (``layout`` is every ipywidget's CSS layout.)"""

    template_file = str(Path(__file__).with_name("vega_chart.vue"))
    chart_layout = traitlets.Dict().tag(sync=True)
    chart_data = traitlets.Dict().tag(sync=True)
