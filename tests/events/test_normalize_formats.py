import pytest

from ovr_alpr.config import EventsConfig
from ovr_alpr.errors import ConfigError
from ovr_alpr.pipeline.config import load_config
from ovr_alpr.plate_text import PlateText
from ovr_alpr.plate_text.normalize import PlateNormalizer

FORMATS = {"sk": ["LLDDDLL"], "cz": ["DLXDDDD"], "pl": ["LLDDDDD"]}


def test_without_formats_nothing_is_repaired():
    norm = PlateNormalizer(EventsConfig())
    assert norm("pp-587 a0").text == "PP587A0"
    assert norm(PlateText("PP587A0", 0.9, (0.9,) * 7)).text == "PP587A0"


def test_formats_repair_and_name_the_region():
    norm = PlateNormalizer(EventsConfig(formats=FORMATS, allow_unknown_region=False))
    assert norm("pp 587 ao") == norm("PP587AO")
    out = norm(PlateText("1T483213", 0.9, (0.95, 0.98, 0.99, 0.57, 0.99, 1.0, 1.0, 1.0)))
    assert (out.text, out.region, out.valid) == ("1T43213", "cz", True)


def test_reader_probabilities_pick_the_look_alike():
    norm = PlateNormalizer(EventsConfig(formats=FORMATS))
    conf = (0.97, 0.99, 0.99, 1.0, 1.0, 0.97, 0.98)
    assert norm("RK340A0").text == "RK340A0"  # A->4 (pl) or 0->O (sk): a tie without probabilities
    read = PlateText("RK340A0", 0.98, conf, ((), (), (), (), (), (("4", 0.003),), (("O", 0.011),)))
    assert norm(read).text == "RK340AO" and norm(read).region == "sk"


def test_unrepairable_reads_fall_back_to_region_patterns():
    norm = PlateNormalizer(EventsConfig(formats=FORMATS))
    out = norm("XYZ")
    assert out.text == "XYZ" and out.region == "us"  # the default `regions` patterns


def test_bad_template_is_a_config_error():
    with pytest.raises(ConfigError, match="formats"):
        load_config(overrides={"events.formats": {"sk": ["LL-DDD"]}})
