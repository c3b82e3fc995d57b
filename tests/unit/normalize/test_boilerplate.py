"""Golden tests of the syndication-chrome rules (worker/normalize/boilerplate.py): one named test per rule
with an Arabic and an English example, and negatives that must stay story text.

Every example is written here for the test (no corpus text). The rules see folded text
(``arabic.fold_for_match``), as ``story_paragraphs`` gives it to them; ``fold`` below does that.
"""

from __future__ import annotations

import time

import pytest

from worker.normalize import arabic, boilerplate
from worker.normalize.boilerplate import (
    is_chrome_line,
    is_cookie_notice,
    is_credit_line,
    is_legal_notice,
    is_link_label_alone,
    is_page_furniture,
    is_placeholder,
    is_related_link,
    is_social_call,
    story_paragraphs,
    story_text,
    strip_dateline,
    strip_read_more_tail,
)
from worker.normalize.text import match_key, normalize_text

LEAD_AR = "أعلنت وزارة الصحة اليوم افتتاح مستشفى جديد في المدينة بطاقة مئتي سرير."
LEAD_EN = "The health ministry opened a new hospital in the city on Monday with 200 beds."


def fold(s: str) -> str:
    return arabic.fold_for_match(s)


def key_of(paragraphs: list[str]) -> str:
    return match_key(story_text(paragraphs))


# --- rule 1: dateline ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dateline",
    [
        "القاهرة - (رويترز) - ",
        "بيروت (أ ف ب) – ",
        "دبي، الإمارات العربية المتحدة (CNN)-- ",
        "(د ب أ) - ",
        "(الأناضول) إسطنبول - ",
        "عمان، بترا: ",
        "الرياض - واس - ",
        "القاهرة، 12 مارس (رويترز) - ",
        "طرابلس - ",
        "CAIRO (Reuters) - ",
        "WASHINGTON, March 3 (Reuters) - ",
        "BEIRUT — ",
        "NEW YORK, N.Y. -- ",
        "(CNN) — ",
    ],
)
def test_dateline_is_cut_from_the_first_paragraph(dateline: str) -> None:
    lead = LEAD_EN if dateline.isascii() else LEAD_AR
    assert strip_dateline(fold(dateline + lead)) == fold(lead)


def test_dateline_only_the_first_paragraph_loses_it() -> None:
    second = "بيروت - (رويترز) - " + LEAD_AR
    assert story_paragraphs([LEAD_AR, second]) == [fold(LEAD_AR), fold(second)]


@pytest.mark.parametrize(
    "paragraph",
    [
        "قالت رويترز: إن الوزارة افتتحت مستشفى جديدا في المدينة.",  # the story quoting the agency
        "وقال مصدر لوكالة رويترز (طلب عدم نشر اسمه) إن المستشفى جاهز.",  # no separator after it
        "القاهرة مدينة لا تنام، قال المحافظ في كلمته أمام الزوار أمس.",  # starts with a city name
        '"القاهرة - وجهتنا الأولى" قال المحافظ في كلمته.',  # a quote that starts with a city
        "اكتسح ريال سوسيداد ضيفه ليفانتي 3 - 1 في الدوري الإسباني.",  # a score, not a dateline
        "Reuters reported that the ministry opened a new hospital in the city.",
        "Cairo is ready, the governor told reporters on Monday.",
        "NATO said on Monday it would send more troops to the region.",
    ],
)
def test_dateline_negatives_stay(paragraph: str) -> None:
    assert strip_dateline(fold(paragraph)) == fold(paragraph)


def test_dateline_with_almost_nothing_after_it_stays() -> None:
    assert strip_dateline("القاهره - نص") == "القاهره - نص"


# --- rule 2: related-link lines --------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "اقرأ أيضاً: الحكومة تعلن خطة جديدة للنقل العام",
        "إقرأ ايضا وزير الخارجية يزور العاصمة",  # no colon
        "للمزيد: ما الذي نعرفه عن الاتفاق؟",
        "للمزيد - معركة المدينة: من يقاتل من؟",
        "شاهد أيضا: لحظة وصول الوفد إلى المطار",
        "مواضيع ذات صلة: انتخابات البلدية",
        "قد يهمك/ تفاصيل الموازنة الجديدة",
        "Read more: Government unveils new transport plan",
        "READ ALSO - Minister visits the capital",
        "Related: What we know about the deal",
        "See also: Election results",
        "المزيد من الأخبار: الدوري الإسباني",
        # scheme v16: other languages' labels (a review found them kept in the key)
        "Читайте также: Водителей автобусов обяжут соблюдать новые правила",
        "СМОТРИТЕ ТАКЖЕ - Итоги выборов в регионе",
        "Дивіться також: Ціни на пальне знову зросли",
        "Baca juga: Sopir bus wajib patuhi aturan istirahat baru",
        "Ayrıca okuyun: Seçim sonuçları açıklandı",
        "Ilgili haber: Bakan başkenti ziyaret etti",
        "यह भी पढ़ें: सरकार ने नई परिवहन योजना की घोषणा की",
        "Lee también: El Gobierno presenta un nuevo plan de transporte",
        "Leia também: Governo anuncia novo plano de transporte",
        "À lire aussi : Le gouvernement dévoile un nouveau plan",
        "Lesen Sie auch: Regierung stellt neuen Verkehrsplan vor",
        "Leggi anche: Il governo presenta un nuovo piano",
        "Czytaj także: Rząd przedstawia nowy plan transportowy",
        "** Читайте также: Новые правила",
    ],
)
def test_related_link_lines_are_chrome(line: str) -> None:
    assert is_related_link(fold(line))


@pytest.mark.parametrize(
    "line",
    [
        "للمزيد من الضغط على الحكومة، دعت النقابات إلى إضراب عام.",  # "for more pressure"
        "وقرأ الوزير أيضا بيانا باسم الحكومة أمام البرلمان.",
        "Read the statement in full, the minister told parliament, and judge for yourselves.",
        "More than 200 people were killed in the attack, officials said.",
        "Читатели также спрашивают, когда откроется новый мост через реку.",
        "Bacaan juga menunjukkan bahwa harga naik tajam pada bulan lalu.",
        "Lee también los informes quien quiera entender la crisis, dijo el ministro.",
        "Mehr zum Thema Energie will die Regierung im Herbst vorlegen.",
    ],
)
def test_related_link_negatives_stay(line: str) -> None:
    assert not is_related_link(fold(line))


def test_related_link_label_alone_takes_its_headlines_with_it() -> None:
    paragraphs = [
        LEAD_AR,
        "اقرأ أيضاً:",
        "الحكومة تعلن خطة جديدة للنقل العام",
        'وزير الخارجية: "لا تراجع عن الاتفاق"',
        "وكان المستشفى القديم قد أغلق قبل عامين بسبب نقص التمويل.",
    ]
    assert is_link_label_alone(fold("اقرأ أيضاً:"))
    assert is_link_label_alone("Related stories")
    assert story_paragraphs(paragraphs) == [fold(paragraphs[0]), fold(paragraphs[-1])]


def test_related_link_block_stops_at_a_story_paragraph() -> None:
    paragraphs = ["Read more:", "Election results", LEAD_EN, "Short line without a full stop"]
    assert story_paragraphs(paragraphs) == [LEAD_EN, "Short line without a full stop"]


# --- rule 3: social calls --------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "تابعونا على فيسبوك وتويتر لمعرفة آخر الأخبار.",
        "تابعوا على موقعنا وتطبيقنا البث المباشر للمباراة.",
        "شاركوا برأيكم عبر صفحتنا على فيسبوك.",
        "لمتابعة آخر المستجدات انضموا إلى قناتنا على تيليغرام",
        "حمّل تطبيق الموقع على هاتفك الذكي.",
        "تابع تغطيتنا المباشرة على مدار الساعة.",
        "يمكنكم تلقي الإشعارات بعد تحميل تطبيقنا.",
        "هل لديك قصة؟ راسلونا عبر البريد الإلكتروني أو واتساب.",
        "لمشاهدة البث المباشر اضغط هنا...",
        "Follow us on Twitter and Facebook for the latest news.",
        "Download our app to get breaking news alerts.",
        "للاشتراك في خدمة الرسائل القصيرة أرسل كلمة أخبار.",
        "زوروا موقعنا لمزيد من التفاصيل.",
        "Sign up for our newsletter.",
        "Click here to watch the video.",
        # scheme v16: other languages' calls (a review found them kept in the key)
        "Подписывайтесь на наш канал в Telegram, чтобы первыми узнавать новости региона",
        "Читайте нас в Дзене и ВКонтакте",
        "Підписуйтесь на наш Telegram-канал",
        "Ikuti berita terkini dari kami di Google News dan kanal WhatsApp",
        "Bizi takip edin: Twitter ve Instagram",
        "Síguenos en Facebook y Twitter",
        "Suivez-nous sur Instagram et abonnez-vous à notre newsletter",
        "Folgen Sie uns auf Instagram",
        "Seguici su Telegram",
    ],
)
def test_social_calls_are_chrome(line: str) -> None:
    assert is_social_call(fold(line))


@pytest.mark.parametrize(
    "line",
    [
        "وتابع في تغريدة على تويتر: لن نسمح بذلك.",  # "he went on" + a social network: the story
        "شارك الوزير في تطبيق الاتفاق الجديد مع النقابات.",  # "took part in implementing"
        "وحمّل المتحدث باسم الجيش الحوثيين مسؤولية الهجوم في بيان على تويتر.",
        "• اضغط على الإعدادات ثم اختر الحساب.",  # a how-to step is the story of a how-to
        "يمكنك بعد ذلك منع هذا التطبيق من استخدام موقعك.",  # "you can" in a how-to, no call
        "وبين الموقع أن 12 لاعبا سجلوا أهداف الفريق في 2018.",  # "they scored", not "register"
        "المشجعون تابعوا المباراة عبر تطبيق البث المباشر.",  # subject first: narration
        "وشاركوا في النقاش على تويتر طوال الليل.",  # "and they took part"
        "He followed the talks on Twitter, his aide said.",
        "Like many others, she learned the news on Facebook.",
        "Следите за развитием событий, призвал губернатор жителей области.",  # no channel
        "Министр подписал указ и опубликовал его в своём Telegram-канале.",  # the story
        "Ikuti saja aturan yang ada, kata menteri kepada wartawan di Jakarta.",
        "Les abonnés de la chaîne ont protesté contre la hausse des prix.",
    ],
)
def test_social_call_negatives_stay(line: str) -> None:
    assert not is_social_call(fold(line))


# --- rule 4: legal notices -------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "جميع الحقوق محفوظة © 2018",
        "حقوق النشر محفوظة لموقع الأخبار.",
        "جميع حقوق النشر والتوزيع محفوظة لدار النشر.",
        "الموقع الإخباري - كل الحقوق محفوظة.",
        "يمنع نسخ أو إعادة نشر هذا المحتوى دون إذن مسبق.",
        "** المقالات المنشورة تعبر عن رأي كتابها فقط.",
        "الآراء الواردة في المقالات تمثل وجهة نظر أصحابها.",
        "© 2018 Reuters. All rights reserved.",
        "Copyright 2018 The Associated Press. This material may not be published or redistributed.",
        "The views expressed in this article are the author's own.",
    ],
)
def test_legal_notices_are_chrome(line: str) -> None:
    assert is_legal_notice(fold(line))


@pytest.mark.parametrize(
    "line",
    [
        "انتقدت منظمة حقوقية قانونا يحظر نقل الجنسية إلى الأبناء.",  # a ban, not on this content
        "وقال المرصد السوري لحقوق الإنسان إن القصف استمر طوال الليل.",
        "وأكد الوزير أن حقوق المواطنين محفوظة في الدستور.",
        "ورأى الكاتب أن الحكومة تمثل رأي الأغلبية في البرلمان.",
        "The court ruled on the copyright of the song last week, ending a five-year dispute.",
    ],
)
def test_legal_notice_negatives_stay(line: str) -> None:
    assert not is_legal_notice(fold(line))


# --- rule 5: credits, bylines, date lines ----------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "فرانس24/ أ ف ب",
        "(رويترز)",
        "المصدر: وكالات",
        "بقلم: سارة أحمد",
        "(إعداد محمد علي للنشرة العربية - تحرير سامي حسن)",
        "آخر تحديث: 12 مارس 2018",
        "مصدر الصورة: رويترز",
        "AFP / Reuters",
        "Reporting by Jane Doe; Editing by John Roe",
        "By Jane Doe and John Roe",
        "Photo: Getty Images",
        "Updated: March 12, 2018 10:30",
    ],
)
def test_credit_lines_are_chrome(line: str) -> None:
    assert is_credit_line(fold(line))


@pytest.mark.parametrize(
    "line",
    [
        "وقالت رويترز.",  # a sentence, however short
        "تقرير: ارتفاع أسعار النفط",  # a headline, not a byline
        "By Tuesday, the army had retaken the town.",
        "Reuters said the talks would resume.",
        "وقال مصدر لرويترز إن المحادثات ستستأنف الأسبوع المقبل بعد توقف دام شهرا.",
    ],
)
def test_credit_line_negatives_stay(line: str) -> None:
    assert not is_credit_line(fold(line))


# --- rule 5b: page furniture ----------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "الرئيسية > أخبار > سياسة",
        "شارك: فيسبوك تويتر واتساب",
        "الاثنين 12 مارس 2018 - 10:30 بتوقيت غرينتش",
        "12/03/2018 10:30",
        "Home / World / Middle East",
        "Share this article:",
        "Monday, March 12, 2018 10:30 GMT",
    ],
)
def test_page_furniture_is_chrome(line: str) -> None:
    assert is_page_furniture(fold(line))


@pytest.mark.parametrize(
    "line",
    [
        "شارك 300 شخص في المسيرة يوم الاثنين 12 مارس.",  # "took part", a sentence with a date
        "الرئيسية الجديدة للشركة افتتحت في دبي.",
        "In March 2018, the talks resumed.",
        "2018 عام الانتخابات",
    ],
)
def test_page_furniture_negatives_stay(line: str) -> None:
    assert not is_page_furniture(fold(line))


# --- rule 6: read-more tail ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("paragraph", "story"),
    [
        ("وقال الوزير إن المستشفى سيفتح أبوابه ... اقرأ المزيد", "وقال الوزير إن المستشفى سيفتح أبوابه"),
        ("وقال الوزير إن المستشفى … التفاصيل على الموقع", "وقال الوزير إن المستشفى"),
        (
            "The minister said the hospital would open... Read more",
            "The minister said the hospital would open",
        ),
        ("The minister said … continue reading", "The minister said"),
    ],
)
def test_read_more_tail_is_cut(paragraph: str, story: str) -> None:
    assert strip_read_more_tail(fold(paragraph)) == fold(story)


@pytest.mark.parametrize(
    "paragraph",
    [
        "وقال الوزير: سنفتح المستشفى ... وسنزيد عدد الأسرة.",
        "He paused... then said more would follow.",  # a sentence end: not a tail
        "بلا نهاية",
    ],
)
def test_read_more_tail_negatives_stay(paragraph: str) -> None:
    assert strip_read_more_tail(fold(paragraph)) == fold(paragraph)


# --- the whole body --------------------------------------------------------------------------


def test_syndicated_copy_gets_the_key_of_the_original() -> None:
    original = [LEAD_AR, "وكان المستشفى القديم قد أغلق قبل عامين بسبب نقص التمويل."]
    syndicated = [
        "الرئيسية > أخبار > صحة",
        "الاثنين 12 مارس 2018 - 10:30",
        "القاهرة - (رويترز) - " + original[0],
        original[1],
        "اقرأ أيضاً: الحكومة تعلن خطة جديدة للنقل العام",
        "تابعونا على فيسبوك وتويتر.",
        "جميع الحقوق محفوظة © الموقع الإخباري 2018.",
    ]
    assert key_of(syndicated) == key_of(original) == match_key("\n\n".join(original))


def test_english_syndicated_copy_gets_the_key_of_the_original() -> None:
    original = [LEAD_EN, "The old hospital closed two years ago for lack of funds."]
    syndicated = [
        "CAIRO (Reuters) - " + original[0],
        original[1],
        "Read more: Government unveils new transport plan",
        "Follow us on Twitter.",
        "Reporting by Jane Doe; Editing by John Roe",
        "© 2018 Reuters. All rights reserved.",
    ]
    assert key_of(syndicated) == key_of(original)


def test_a_body_of_chrome_only_is_kept_whole() -> None:
    chrome = ["اقرأ أيضاً: الحكومة تعلن خطة جديدة", "جميع الحقوق محفوظة"]
    assert story_paragraphs(chrome) == chrome
    assert story_paragraphs([]) == []


def test_long_paragraphs_are_never_chrome() -> None:
    long_line = "تابعونا على فيسبوك " + " ".join(["كلمة"] * 100)
    assert len(long_line) > boilerplate.MAX_CHROME_CHARS
    assert not is_chrome_line(long_line)
    assert story_paragraphs([LEAD_AR, long_line]) == [fold(LEAD_AR), fold(long_line)]


def test_vocalised_chrome_is_still_chrome() -> None:
    # Rules see folded text: diacritics and hamza forms do not hide a label.
    assert story_paragraphs([LEAD_AR, "اِقْرَأْ أَيْضًا: عُنْوَانٌ آخَرُ"]) == [fold(LEAD_AR)]


def test_normalize_keeps_chrome_in_the_readable_text_and_drops_it_from_the_key() -> None:
    text = "القاهرة - (رويترز) - " + LEAD_AR + "\n\nتابعونا على فيسبوك وتويتر."
    out = normalize_text(title=None, text=text, html=None)
    assert out.paragraphs[0].startswith("القاهرة - (رويترز) - ")
    assert out.paragraphs[-1] == "تابعونا على فيسبوك وتويتر."
    assert out.match_key == match_key(LEAD_AR)
    again = normalize_text(title=out.title, text=out.text, html=None)
    assert again.match_key == out.match_key


def test_story_paragraphs_is_fast_on_a_typical_article() -> None:
    # ~2,300 characters of made-up news with a dateline and a footer: ~10 µs on the project's
    # machine (docs/NORMALIZATION.md); the bound is generous for a loaded CI machine.
    sentence = "وأعلن رئيس الوفد، في ختام الاجتماع، حصول المعارضة على تعهد بوقف القصف وفك الحصار."
    paragraphs = ["القاهرة - (رويترز) - " + sentence] + [" ".join([sentence] * 2)] * 12
    paragraphs += ["اقرأ أيضاً: عنوان آخر", "جميع الحقوق محفوظة"]
    best = min(_elapsed(lambda: story_paragraphs(paragraphs)) for _ in range(50))
    assert best < 0.0003, best


def _elapsed(fn: object) -> float:
    assert callable(fn)
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


COOKIE_EN = (
    "We use cookies and similar technologies to improve your experience on our website and to "
    "analyse our traffic. By continuing to browse this site you agree to our use of cookies. You "
    "can change your settings at any time in our privacy and cookie policy."
)
COOKIE_AR = (
    "يستخدم هذا الموقع ملفات تعريف الارتباط لتحسين تجربتك. باستمرارك في تصفح الموقع فإنك توافق "
    "على سياسة ملفات تعريف الارتباط."
)


@pytest.mark.parametrize("notice", [COOKIE_EN, COOKIE_AR, "This website uses cookies. Accept all cookies"])
def test_a_cookie_notice_at_either_edge_is_left_out_of_the_key(notice: str) -> None:
    """A scraper's cookie banner is longer than other chrome (~85 words): two stories under one
    banner must not share most of their key."""
    assert is_cookie_notice(fold(notice))
    story = "The city council approved a new budget on Tuesday that raises spending on schools."
    assert story_paragraphs([notice, story]) == [story]
    assert story_paragraphs([story, notice]) == [story]


@pytest.mark.parametrize(
    "line",
    [
        "France's privacy regulator fined Google 150 million euros for making it hard to refuse cookies.",
        "Regulators said the company placed advertising cookies without consent, breaking the law.",
        "غرمت الهيئة الشركة بسبب ملفات تعريف الارتباط التي زرعتها دون موافقة المستخدمين.",
        "The bakery sold 10,000 cookies on Saturday, its owner said.",
    ],
)
def test_a_story_about_cookies_is_no_cookie_notice(line: str) -> None:
    assert not is_cookie_notice(fold(line))


@pytest.mark.parametrize(
    "line",
    [
        "This is a developing story. More details to follow.",
        "More details to follow.",
        "Check back later for updates.",
        "This story will be updated.",
        "Watch the video above.",
        "عاجل",
        "خبر عاجل.. التفاصيل بعد قليل",
        "المزيد من التفاصيل لاحقاً",
        "شاهد الفيديو أدناه",
    ],
)
def test_a_body_of_placeholders_tells_no_story_one_with_a_story_keeps_them(line: str) -> None:
    """A flash's body ("More details to follow.") is the same under every story: no story. Beside
    a story the line stays in the key: an update that replaces it with a fact (``At least 78
    killed.``) must not become a copy of the flash for having lost it."""
    assert is_placeholder(fold(line))
    assert boilerplate.story_of([line]) is None
    assert boilerplate.story_of([line, "جميع الحقوق محفوظة", line]) is None
    story = "The city council approved a new budget on Tuesday that raises spending on schools."
    assert story_paragraphs([story, line]) == [story, fold(line)]


@pytest.mark.parametrize(
    "line",
    [
        "Breaking news from the capital: the minister resigned on Monday.",
        "The developing countries asked for more time, the envoy said.",
        "Details of the agreement were not made public.",
        "عاجل: الرئيس يصل إلى القاهرة في زيارة تستمر يومين",
        "وقال إن التفاصيل ستعلن في مؤتمر صحفي غدا.",
        # a story sentence with a caption run into its end: the sentence is the story's
        "وتأتي هذه الجلسة بعد مقتل 17 شخصا وجرح أكثر من 1400 آخرين في مواجهات الجمعة، شاهد الفيديو أعلاه.",
        "The council met on Friday after weeks of protests over the budget. Watch the video above.",
    ],
)
def test_placeholder_negatives_stay(line: str) -> None:
    assert not is_placeholder(fold(line))


def test_a_placeholder_with_typographic_punctuation_or_capitals_is_one() -> None:
    for line in ("This is a developing story — more details to follow…", "WATCH THE VIDEO ABOVE", "عاجل…"):
        assert is_placeholder(fold(line)), line


@pytest.mark.parametrize(
    "line",
    [
        "The regulator said the site made users accept all cookies by clicking a single button, "
        "and that you accept tracking when you close the banner was not consent under the law.",
        "وقالت الهيئة إن الشركة وافقت على تعديل نافذة ملفات تعريف الارتباط بعد شكاوى المستخدمين.",
        "Cookie policy changes at the bakery chain were announced on Monday.",
    ],
)
def test_a_story_paragraph_naming_cookie_consent_is_no_cookie_notice(line: str) -> None:
    assert not is_cookie_notice(fold(line))


@pytest.mark.parametrize("line", ["Accept all cookies", "Manage cookies", "قبول جميع ملفات تعريف الارتباط"])
def test_a_consent_button_label_is_a_cookie_notice(line: str) -> None:
    assert is_cookie_notice(fold(line))


def test_reporting_on_a_site_s_cookies_is_no_cookie_notice() -> None:
    line = "Investigators found that the website uses cookies from 40 advertising partners and gave it 30 days."
    assert not is_cookie_notice(fold(line))
    assert is_cookie_notice(fold("Our website uses cookies to improve your experience."))


@pytest.mark.parametrize(
    "line",
    [
        "« Rejoignez-nous ! », scandaient les manifestants qui formaient une chaîne humaine devant la mairie.",
        "Warga diminta ikuti update informasi soal tinggi muka air di Banjir Kanal Timur dari petugas.",
        "— Следите за новостями на канале администрации, — призвал глава района жителей.",
    ],
)
def test_story_lines_with_a_call_word_and_a_plain_channel_word_stay(line: str) -> None:
    """Scheme v16's first version took "canal", "kanal", "chaîne", "канал" for the outlet's
    channel: a waterway, a human chain and a district's channel in these story lines made them
    calls to follow, dropped from the key (a review of that version). The outlet's own channel
    ("наш канал", "kanal kami") or a social network still makes a call."""
    assert not is_social_call(fold(line))
    assert is_social_call(fold("Подписывайтесь на наш канал, чтобы первыми узнавать новости"))
    assert is_social_call(fold("Ikuti kanal kami untuk kabar terbaru"))
