"""Traditional Chinese folded to simplified in the match key (worker/normalize/chinese.py)."""

from __future__ import annotations

from worker.normalize.chinese import fold_chinese, fold_table
from worker.normalize.text import match_key, normalize_text

TRADITIONAL = "這是關於國會與經濟發展的報導。臺灣的記者說，會議將於下週舉行。"
SIMPLIFIED = "这是关于国会与经济发展的报导。台湾的记者说，会议将于下周举行。"


def test_one_article_in_either_script_has_one_key_and_keeps_its_own_text() -> None:
    trad = normalize_text(title=None, text=TRADITIONAL, html=None)
    simp = normalize_text(title=None, text=SIMPLIFIED, html=None)
    assert trad.match_key == simp.match_key
    assert trad.text == TRADITIONAL and simp.text == SIMPLIFIED  # the readable text is the outlet's


def test_the_fold_is_per_character_one_to_one_and_a_fixed_point() -> None:
    table = fold_table()
    assert len(table) > 3000  # OpenCC's t2s characters and variants
    assert all(len(target) == 1 for target in table.values())
    assert all(ord(target) not in table for target in table.values())  # folding twice changes nothing
    assert fold_chinese(fold_chinese(TRADITIONAL)) == fold_chinese(TRADITIONAL)
    assert len(fold_chinese(TRADITIONAL)) == len(TRADITIONAL)  # token boundaries stay where they were


def test_keys_without_ideographs_are_untouched() -> None:
    for text in ("أعلن المبعوث الدولي", "The envoy said", "Спецпосланник заявил", "ทูตพิเศษกล่าว", "かな カナ"):
        assert fold_chinese(text) is text


def test_match_key_stays_idempotent_with_the_fold() -> None:
    for text in (TRADITIONAL, SIMPLIFIED, "特使は月曜日、協議が来週ジュネーブで再開されると述べた。", "蘋果CEO庫克2024年"):
        key = match_key(text)
        assert match_key(key) == key


def test_a_key_with_no_traditional_character_is_returned_as_it_is_and_one_with_a_single_one_folds() -> None:
    assert fold_chinese(SIMPLIFIED) is SIMPLIFIED
    # one traditional character in simplified text (a name, a quotation) is still folded
    mixed = SIMPLIFIED.replace("台湾", "臺湾")
    assert fold_chinese(mixed) == SIMPLIFIED
    for text in (TRADITIONAL, SIMPLIFIED, mixed, "特使は月曜日、協議が来週ジュネーブで再開された"):
        assert fold_chinese(text) == text.translate(fold_table())
