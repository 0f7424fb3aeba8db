"""Validation of the signal layer against public recordings with reference events.

* :mod:`imurun.validation.datasets` loads the shared data sets into typed trials (SI units,
  sacrum body frame, reference events in seconds).
* :mod:`imurun.validation.evaluate` matches detected to reference events and computes the metrics.
* :mod:`imurun.validation.optical` scores mobgap_lab's INDIP reference (and the detector) against
  the lab's optical reference, stereophotogrammetry.
* :mod:`imurun.validation.orientation_check` compares the pelvis angles on the real lower-back
  recordings with x-io's imufusion (a test-time reference).
* :mod:`imurun.validation.report` renders the results as markdown (``make validate``).

The data live outside the repository (``IMURUN_SHARED_DATA``, default ``../shared/data``) and are
never copied into it.
"""

from imurun.validation.datasets import (
    DATASETS,
    DatasetNotFoundError,
    Trial,
    load_alcantara2022,
    load_dataset,
    load_mobgap_lab,
    load_voisard_ipol,
    shared_data_root,
)

__all__ = [
    "DATASETS",
    "DatasetNotFoundError",
    "Trial",
    "load_alcantara2022",
    "load_dataset",
    "load_mobgap_lab",
    "load_voisard_ipol",
    "shared_data_root",
]
