"""Issue 17, "one way inside": each fact and each job has one implementation that every command uses."""

import pytest

from garmentcli.errors import InputError


@pytest.mark.parametrize("text", ["aruco:4x4_50:0:8", "aruco:4x4_50:0:8cm", "aruco:4X4_50:3:7.5cm"])
def test_one_marker_spec_parser_for_measure_and_synth(text):
    from garmentcli.measure.calibration import MarkerSpec as MeasureSpec
    from garmentcli.synth.markers import MarkerSpec as SynthSpec

    assert MeasureSpec.parse(text) == SynthSpec.parse(text)


@pytest.mark.parametrize("text", ["aruco:4x4_50:0", "aruco:4x4_50:50:8", "aruco:4x4_50:0:-1cm"])
def test_one_marker_spec_parser_refuses_alike(text):
    from garmentcli.measure.calibration import MarkerSpec as MeasureSpec
    from garmentcli.synth.markers import MarkerSpec as SynthSpec

    for spec in (MeasureSpec, SynthSpec):
        with pytest.raises(InputError, match="--marker"):
            spec.parse(text)
