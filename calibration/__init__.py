"""Calibration of the city model to Saitama's observed history.

``calibration/targets/`` holds the observed series (copies of ``shared/data/`` files
with their source lines); :mod:`calibration.targets` turns them into patterns the
model is held against; :mod:`calibration.abc` is approximate Bayesian computation
(ABC-SMC); :mod:`calibration.procedure` runs the history scenario over the
behavioural parameters on the project's executor layer and writes the posterior
(``calibration/posterior.csv``) that every scenario then draws its replicates' parameters
from; :mod:`calibration.report` shows the fit. ``abm calibrate`` is the command.
"""
