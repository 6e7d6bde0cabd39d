import pytest

from ovr_alpr.plate_text.formats import FormatBank, expand_template, fits


def test_expand_template_counts_and_errors():
    assert expand_template("LLDDDLL") == ["LLDDDLL"]
    assert expand_template("L{1,2}D{2}") == ["LDD", "LLDD"]
    assert expand_template("dlx d{2}") == ["DLXDD"]
    for bad in ["LL-DD", "ABC", "L{3,1}", ""]:
        with pytest.raises(ValueError):
            expand_template(bad)


def test_fits():
    assert fits("AB123", "LLDDD")
    assert fits("4B04979", "DLXDDDD") and fits("4BO4979", "DLXDDDD")
    assert not fits("AB12", "LLDDD") and not fits("A1123", "LLDDD")


def test_read_that_fits_is_kept_and_named():
    bank = FormatBank({"sk": ["LLDDDLL"], "cz": ["DLXDDDD"]})
    rep = bank.repair("RK099AN")
    assert (rep.text, rep.region, rep.edits, rep.cost) == ("RK099AN", "sk", 0, 0.0)
    assert bank.repair("4B04979").region == "cz"


def test_look_alike_swaps_at_letter_and_digit_positions():
    bank = FormatBank({"it": ["LLDDDLL"]})
    assert bank.repair("PP587A0").text == "PP587AO"
    assert bank.repair("LM298A1").text == "LM298AI"
    assert bank.repair("RKO99AN").text == "RK099AN"  # letter read where a digit belongs
    assert bank.repair("RKO98A0").text == "RK098AO"  # two swaps are allowed by default
    assert bank.repair("RKO9BA0") is None  # three are not
    assert bank.repair("RK123XY").text == "RK123XY"
    assert bank.repair("RK12XXY") is None  # X has no digit look-alike


def test_deletion_drops_the_least_certain_character():
    bank = FormatBank({"cz": ["DLXDDDD"], "sk": ["LLDDDLL"]})
    # Czech plate with the registration sticker between the groups read as an '8'
    conf = (0.95, 0.98, 0.99, 0.57, 0.99, 1.0, 1.0, 1.0)
    assert bank.repair("1T483213", conf).text == "1T43213"
    # the blue EU band read as a leading letter
    assert bank.repair("ERK763AS", (0.62, 1, 1, 1, 1, 1, 1, 1)).text == "RK763AS"
    # at most one deletion by default
    assert bank.repair("EERK763AS", (0.6, 0.6, 1, 1, 1, 1, 1, 1, 1)) is None
    assert FormatBank({"sk": ["LLDDDLL"]}, max_deletions=0).repair("ERK763AS") is None


def test_equal_cost_repairs_are_ambiguous():
    bank = FormatBank({"sk": ["LLDDDLL"], "pl": ["LLDDDDD"]})
    # A->4 (pl) and 0->O (sk) cost the same without probabilities: nothing to choose by
    assert bank.repair("RK340A0") is None


def test_alternatives_decide_between_look_alikes():
    bank = FormatBank({"sk": ["LLDDDLL"], "pl": ["LLDDDDD"]})
    conf = (0.97, 0.99, 0.99, 1.0, 1.0, 0.97, 0.98)
    alts = ((), (), (), (), (), (("4", 0.003),), (("O", 0.011),))
    rep = bank.repair("RK340A0", conf, alts)
    assert rep.text == "RK340AO" and rep.region == "sk"
    alts = ((), (), (), (), (), (("4", 0.2),), (("O", 0.011),))
    assert bank.repair("RK340A0", conf, alts).text == "RK34040"


def test_empty_bank_repairs_nothing():
    bank = FormatBank({})
    assert not bank
    assert bank.repair("PP587A0") is None
