import pytest

from schemas.expressions import EXPRESSIONS
from training.labeling.emotions import REKOGNITION_TO_CLASS, soft_label


def test_every_mapped_class_is_a_moodlens_class_and_each_class_has_one_source():
    assert set(REKOGNITION_TO_CLASS.values()) == set(EXPRESSIONS)


def test_confidences_become_a_distribution_over_the_seven_classes_with_unmapped_mass_set_aside():
    label = soft_label([{"Type": "HAPPY", "Confidence": 60.0}, {"Type": "CALM", "Confidence": 20.0},
                        {"Type": "CONFUSED", "Confidence": 15.0}, {"Type": "UNKNOWN", "Confidence": 5.0}])
    assert label is not None
    assert sum(label.probabilities) == pytest.approx(1.0)
    assert label.probabilities[EXPRESSIONS.index("happy")] == pytest.approx(60 / 80)
    assert label.probabilities[EXPRESSIONS.index("neutral")] == pytest.approx(20 / 80)
    assert label.unmapped == pytest.approx(20 / 100)
    assert label.top_class == "happy"


def test_only_unmapped_emotions_give_no_label():
    assert soft_label([{"Type": "CONFUSED", "Confidence": 99.0}]) is None
    assert soft_label([]) is None


@pytest.mark.parametrize("emotion", [{"Type": "SMUG", "Confidence": 1.0}, {"Type": "HAPPY", "Confidence": -1},
                                     {"Type": "HAPPY", "Confidence": True}])
def test_unknown_types_and_bad_confidences_are_refused_by_name(emotion):
    with pytest.raises(ValueError, match="Emotions"):
        soft_label([emotion])
