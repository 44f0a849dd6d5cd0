import numpy as np
import pandas as pd
import pytest
from io_samples import assert_sets_equal, sample_set

from garmentcli.errors import FormatError
from garmentcli.io.tables import landmark_columns, long_frame, read_csv, wide_frame, write_csv, write_csv_long
from garmentcli.schema.layout import DF2


def test_wide_csv_round_trip(tmp_path):
    for scores in (False, True):
        original = sample_set(scores=scores)
        write_csv(original, tmp_path / "t.csv")
        assert_sets_equal(read_csv(tmp_path / "t.csv"), original, extra=False)


def test_wide_columns_are_semantic_names_of_the_categories_present():
    frame = wide_frame(sample_set())
    assert list(frame.columns[:17]) == [
        "image_id", "file_name", "width", "height", "garment_id", "category_id", "category_name",
        "scale", "occlusion", "zoom_in", "viewpoint", "style", "score", "box_x", "box_y", "box_w", "box_h",
    ]  # fmt: skip
    names = {c[:-2] for c in frame.columns if c.endswith("_v")}
    present = {n for cid in (1, 8, 11) for n in DF2.category(cid).landmarks}
    assert names == present
    shirt = frame.iloc[0]
    np.testing.assert_array_equal(
        shirt[landmark_columns(1)].to_numpy(float), sample_set().images[0].garments[0].landmarks.ravel()
    )
    assert pd.isna(shirt["waist_l_x"])  # a trousers landmark: empty for the shirt
    assert frame.iloc[3]["file_name"] == "000003.jpg" and pd.isna(frame.iloc[3]["category_id"])


def test_long_csv_has_one_row_per_landmark(tmp_path):
    aset = sample_set(scores=True)
    frame = long_frame(aset)
    counts = [DF2.category(c).num_landmarks for c in (1, 8, 11)]
    assert len(frame) == sum(counts)
    trousers = frame[frame["garment"] == 1]
    assert list(trousers["landmark"]) == list(DF2.category(8).landmarks)
    assert list(trousers["landmark_index"]) == list(range(1, 15))
    np.testing.assert_array_equal(trousers[["x", "y", "v"]].to_numpy(), aset.images[0].garments[1].landmarks)
    assert (trousers["score"] == aset.images[0].garments[1].score).all()
    write_csv_long(aset, tmp_path / "long.csv")
    assert len(pd.read_csv(tmp_path / "long.csv")) == sum(counts)
    with pytest.raises(FormatError, match="long CSV"):
        read_csv(tmp_path / "long.csv")


def test_empty_set_tables():
    from garmentcli.schema.records import AnnotationSet

    assert len(wide_frame(AnnotationSet())) == 0
    assert len(long_frame(AnnotationSet())) == 0


def test_bad_rows_are_reported_and_skipped(tmp_path):
    frame = wide_frame(sample_set())
    frame.loc[0, "neck_l_x"] = np.nan
    frame.loc[1, "box_w"] = -4
    frame.loc[2, "category_id"] = 77
    frame.to_csv(tmp_path / "bad.csv", index=False)
    messages = []
    aset = read_csv(tmp_path / "bad.csv", messages.append)
    assert aset.num_garments == 0 and len(aset) == 3
    assert messages[0].startswith(f"{tmp_path / 'bad.csv'}: row 2: ") and "NaN" in messages[0]
    assert "row 3" in messages[1] and "box has no area" in messages[1]
    assert "row 4" in messages[2] and "unknown garment category 77" in messages[2]


def test_missing_landmark_columns_and_not_a_table(tmp_path):
    frame = wide_frame(sample_set()).drop(columns=["waist_l_x"])
    frame.to_csv(tmp_path / "cut.csv", index=False)
    messages = []
    read_csv(tmp_path / "cut.csv", messages.append)
    assert messages == [f"{tmp_path / 'cut.csv'}: row 3: no columns for trousers landmarks (waist_l_x, …)"]
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(FormatError, match="missing columns file_name, box_x"):
        read_csv(tmp_path / "other.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(FormatError, match="empty file"):
        read_csv(tmp_path / "empty.csv")


@pytest.mark.parametrize("name", ["000001.jpg", 'odd, "quoted" name.jpg', "two\nlines.jpg"])
def test_fast_csv_text_parses_like_pandas_own(tmp_path, name):
    aset = sample_set(scores=True)
    aset.images[0].file_name = name
    for frame, write in ((wide_frame(aset), write_csv), (long_frame(aset), write_csv_long)):
        write(aset, tmp_path / "ours.csv")
        frame.to_csv(tmp_path / "pandas.csv", index=False)
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "ours.csv"), pd.read_csv(tmp_path / "pandas.csv"))
    write_csv(aset, tmp_path / "wide.csv")
    assert read_csv(tmp_path / "wide.csv").images[0].file_name == name
