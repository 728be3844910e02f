"""Text of charts, maps and the report in English, Russian and Kazakh.

``text(key, lang)`` looks a phrase up; ``str.format`` fields are filled from keyword arguments. A phrase missing
in Russian or Kazakh falls back to English (so a chart never shows a bare key). Kazakh is a best effort by the
authors; corrections by a native speaker are welcome.
"""

from __future__ import annotations

from typing import Final

from vision_zero.core.errors import ConfigError

__all__ = ["LANGUAGES", "check_lang", "text"]

#: Supported languages.
LANGUAGES: Final[tuple[str, ...]] = ("en", "ru", "kk")

_T: Final[dict[str, dict[str, str]]] = {
    "schematic": {
        "en": "SCHEMATIC network — not real geometry",
        "ru": "СХЕМАТИЧЕСКАЯ сеть — не реальная геометрия",
        "kk": "СХЕМАЛЫҚ желі — нақты геометрия емес",
    },
    "schematic_long": {
        "en": "SCHEMATIC network — not real geometry: no result here is a finding about a real city.",
        "ru": "СХЕМАТИЧЕСКАЯ сеть — не реальная геометрия: ни один результат здесь не относится к реальному городу.",
        "kk": "СХЕМАЛЫҚ желі — нақты геометрия емес: мұндағы нәтижелер нақты қалаға қатысты емес.",
    },
    "evidence": {
        "en": "Evidence: {source}",
        "ru": "Источник данных: {source}",
        "kk": "Дереккөз: {source}",
    },
    "evidence_default": {
        "en": "vision_zero risk model; parameters and sources in vision_zero/data/parameters",
        "ru": "модель риска vision_zero; параметры и источники в vision_zero/data/parameters",
        "kk": "vision_zero қауіп моделі; параметрлер мен дереккөздер vision_zero/data/parameters ішінде",
    },
    "ci_note": {
        "en": "bars: 95% confidence interval of the mean over {n} replications",
        "ru": "отрезки: 95% доверительный интервал среднего по {n} прогонам",
        "kk": "кесінділер: {n} қайталау бойынша орташаның 95% сенімділік аралығы",
    },
    "ksi_title": {
        "en": "Killed or seriously injured (KSI) per year, by scenario",
        "ru": "Погибшие и тяжело раненые (KSI) в год, по сценариям",
        "kk": "Жылына қаза тапқандар мен ауыр жарақаттанғандар (KSI), сценарийлер бойынша",
    },
    "ksi_axis": {
        "en": "KSI per year [casualties/year]",
        "ru": "KSI в год [пострадавших/год]",
        "kk": "Жылына KSI [зардап шеккендер/жыл]",
    },
    "fatal": {"en": "deaths", "ru": "погибшие", "kk": "қаза тапқандар"},
    "serious": {"en": "serious injuries", "ru": "тяжело раненые", "kk": "ауыр жарақаттанғандар"},
    "slight": {"en": "slight injuries", "ru": "легко раненые", "kk": "жеңіл жарақаттанғандар"},
    "ksi": {"en": "KSI", "ru": "KSI", "kk": "KSI"},
    "scenario": {"en": "scenario", "ru": "сценарий", "kk": "сценарий"},
    "baseline": {"en": "baseline", "ru": "базовый", "kk": "базалық"},
    "tradeoff_title": {
        "en": "KSI avoided vs travel time added, per variant (against {baseline})",
        "ru": "Предотвращённые KSI и добавленное время в пути, по вариантам (относительно «{baseline}»)",
        "kk": "Алдын алынған KSI және қосылған жол уақыты, нұсқалар бойынша («{baseline}» салыстырғанда)",
    },
    "tradeoff_x": {
        "en": "travel time added [vehicle-hours/year]",
        "ru": "добавленное время в пути [авт.-ч/год]",
        "kk": "қосылған жол уақыты [көлік-сағ/жыл]",
    },
    "tradeoff_y": {
        "en": "KSI avoided [casualties/year]",
        "ru": "предотвращённые KSI [пострадавших/год]",
        "kk": "алдын алынған KSI [зардап шеккендер/жыл]",
    },
    "speed_title": {
        "en": "Driven speeds on the {n} links the variant changed: {baseline} vs {variant}",
        "ru": "Скорости на {n} участках, изменённых вариантом: «{baseline}» и «{variant}»",
        "kk": "Нұсқа өзгерткен {n} учаскедегі жылдамдық: «{baseline}» және «{variant}»",
    },
    "speed_x": {"en": "speed [km/h]", "ru": "скорость [км/ч]", "kk": "жылдамдық [км/сағ]"},
    "speed_y": {
        "en": "share of vehicle passages [%]",
        "ru": "доля проездов [%]",
        "kk": "өтулер үлесі [%]",
    },
    "speed_none": {
        "en": "no link changed: speeds not shown",
        "ru": "участки не изменены: скорости не показаны",
        "kk": "учаскелер өзгермеген: жылдамдықтар көрсетілмейді",
    },
    "tornado_title": {
        "en": "Sensitivity of KSI avoided per year ({variant}) to each uncertain parameter",
        "ru": "Чувствительность предотвращённых KSI в год («{variant}») к каждому неопределённому параметру",
        "kk": "Жылына алдын алынған KSI («{variant}») әр белгісіз параметрге сезімталдығы",
    },
    "tornado_x": {
        "en": "KSI avoided per year, parameter at its low / high value [casualties/year]",
        "ru": "предотвращённые KSI в год при низком / высоком значении параметра [пострадавших/год]",
        "kk": "параметр төмен / жоғары мәнде алдын алынған KSI [зардап шеккендер/жыл]",
    },
    "tornado_method": {
        "en": "method: regression of the paired KSI difference on each parameter's draws, scaled to its low–high range",
        "ru": "метод: регрессия парной разности KSI на выборки параметра, масштабированная на его диапазон",
        "kk": "әдіс: жұптық KSI айырмасының параметр мәндеріне регрессиясы, оның ауқымына масштабталған",
    },
    "tornado_few": {
        "en": "{n} paired replications are too few to estimate sensitivities (at least 3; 10 or more for a useful chart)",
        "ru": "{n} парных прогонов слишком мало для оценки чувствительности (нужно не менее 3, лучше 10 и более)",
        "kk": "{n} жұптық қайталау сезімталдықты бағалауға аз (кемінде 3, жақсысы 10 не одан көп)",
    },
    "tornado_faded": {
        "en": "faded bars: slope within 2 standard errors of 0 (not told apart from noise with {n} pairs)",
        "ru": "бледные полосы: наклон в пределах 2 стандартных ошибок от 0 (не отличим от шума при {n} парах)",
        "kk": "бозғылт жолақтар: көлбеулік 0-ден 2 стандартты қате ішінде ({n} жұппен шудан ажыратылмайды)",
    },
    "tornado_low": {"en": "parameter low", "ru": "низкое значение", "kk": "төмен мән"},
    "tornado_high": {"en": "parameter high", "ru": "высокое значение", "kk": "жоғары мән"},
    "tornado_none": {
        "en": "no drawn parameter varied across the replications: nothing to show",
        "ru": "ни один параметр не менялся между прогонами: нечего показать",
        "kk": "ешбір параметр қайталаулар арасында өзгермеді: көрсететін ештеңе жоқ",
    },
    "map_title": {
        "en": "KSI per km per year — {scenario}",
        "ru": "KSI на км в год — {scenario}",
        "kk": "Жылына бір км-ге KSI — {scenario}",
    },
    "map_diff_title": {
        "en": "Change in KSI per km per year — {variant} minus {baseline}",
        "ru": "Изменение KSI на км в год — «{variant}» минус «{baseline}»",
        "kk": "Жылына бір км-ге KSI өзгерісі — «{variant}» минус «{baseline}»",
    },
    "map_unit": {
        "en": "KSI per km per year [casualties/km/year]",
        "ru": "KSI на км в год [пострадавших/км/год]",
        "kk": "Жылына бір км-ге KSI [зардап/км/жыл]",
    },
    "map_diff_unit": {
        "en": "change in KSI per km per year (blue = fewer)",
        "ru": "изменение KSI на км в год (синий = меньше)",
        "kk": "бір км-ге KSI өзгерісі (көк = азырақ)",
    },
    "map_note": {
        "en": "junction and crossing casualties shared equally among the links that meet there",
        "ru": "пострадавшие на перекрёстках и переходах поровну распределены между примыкающими участками",
        "kk": "қиылыстар мен өтпелердегі зардап шеккендер түйіскен учаскелерге тең бөлінген",
    },
    "lon": {"en": "longitude [°]", "ru": "долгота [°]", "kk": "бойлық [°]"},
    "lat": {"en": "latitude [°]", "ru": "широта [°]", "kk": "ендік [°]"},
    "report_title": {
        "en": "Road-safety program appraisal: {variants} against {baseline}",
        "ru": "Оценка программы безопасности дорожного движения: {variants} относительно «{baseline}»",
        "kk": "Жол қауіпсіздігі бағдарламасын бағалау: {variants} «{baseline}» салыстырғанда",
    },
    "summary": {"en": "Summary", "ru": "Краткие выводы", "kk": "Қысқаша қорытынды"},
    "headline": {
        "en": "{variant}: {deaths} deaths ({deaths_ci}) and {serious} serious injuries ({serious_ci}) avoided "
        "per year; cost {cost} {currency} (present value); benefit–cost ratio {bcr} ({bcr_ci}); "
        "probability of fewer KSI {prob}.",
        "ru": "«{variant}»: предотвращается {deaths} смертей ({deaths_ci}) и {serious} тяжёлых травм "
        "({serious_ci}) в год; затраты {cost} {currency} (приведённая стоимость); отношение выгод к затратам "
        "{bcr} ({bcr_ci}); вероятность снижения KSI {prob}.",
        "kk": "«{variant}»: жылына {deaths} өлім ({deaths_ci}) және {serious} ауыр жарақат ({serious_ci}) "
        "алдын алынады; шығын {cost} {currency} (келтірілген құн); пайда мен шығын қатынасы {bcr} "
        "({bcr_ci}); KSI азаю ықтималдығы {prob}.",
    },
    "interval_note": {
        "en": "Numbers in brackets: 95% confidence interval of the mean over {n} paired replications "
        "(common random numbers). Replications draw the uncertain evidence too; the spread of single "
        "replications is in the tables (p_low–p_high).",
        "ru": "В скобках: 95% доверительный интервал среднего по {n} парным прогонам (общие случайные числа). "
        "Прогоны также разыгрывают неопределённые параметры; разброс отдельных прогонов — в таблицах.",
        "kk": "Жақшада: {n} жұптық қайталау бойынша орташаның 95% сенімділік аралығы (ортақ кездейсоқ сандар). "
        "Қайталаулар белгісіз параметрлерді де ойнатады; жеке қайталаулардың шашырауы кестелерде.",
    },
    "truncated_note": {
        "en": "Casualties of one scenario cannot be negative: where the interval of the mean reached below 0 "
        "(few replications), its lower end is shown as 0. Differences (KSI avoided) keep their signed intervals.",
        "ru": "Число пострадавших в одном сценарии не может быть отрицательным: где интервал среднего уходил "
        "ниже 0 (мало прогонов), его нижняя граница показана как 0. Разности (предотвращённые KSI) сохраняют "
        "интервалы со знаком.",
        "kk": "Бір сценарийдегі зардап шеккендер саны теріс бола алмайды: орташаның аралығы 0-ден төмен "
        "түскен жерде (қайталау аз) оның төменгі шегі 0 деп көрсетілген. Айырмалар (алдын алынған KSI) "
        "таңбалы аралықтарын сақтайды.",
    },
    "few_reps": {
        "en": "Only {n} paired replications: the intervals are wide and P(fewer KSI) moves in steps of {step}%. "
        "For a decision, rerun with --replications 10 or more.",
        "ru": "Всего {n} парных прогонов: интервалы широкие, а P(меньше KSI) меняется шагами по {step}%. "
        "Для решения повторите расчёт с --replications 10 или больше.",
        "kk": "Тек {n} жұптық қайталау: аралықтар кең, P(KSI азаяды) {step}% қадаммен өзгереді. "
        "Шешім үшін --replications 10 немесе одан көп етіп қайта есептеңіз.",
    },
    "tables": {"en": "Tables", "ru": "Таблицы", "kk": "Кестелер"},
    "charts": {"en": "Charts", "ru": "Графики", "kk": "Графиктер"},
    "maps": {"en": "Maps", "ru": "Карты", "kk": "Карталар"},
    "assumptions": {"en": "Assumptions", "ru": "Допущения", "kk": "Болжамдар"},
    "sources": {
        "en": "Parameters and their sources",
        "ru": "Параметры и их источники",
        "kk": "Параметрлер және олардың дереккөздері",
    },
    "by_road_user": {
        "en": "KSI avoided per year by road user",
        "ru": "Предотвращённые KSI в год по участникам движения",
        "kk": "Жол қозғалысы қатысушылары бойынша жылына алдын алынған KSI",
    },
    "where_title": {
        "en": "KSI avoided per year: where the change happens",
        "ru": "Предотвращённые KSI в год: где происходит изменение",
        "kk": "Жылына алдын алынған KSI: өзгеріс қай жерде болады",
    },
    "where_note": {
        "en": "Where the change happens: on the streets the program changed vs elsewhere, e.g. traffic diverted "
        "(negative = more KSI).",
        "ru": "Где происходит изменение: на улицах, которые изменила программа, и в остальной сети, например из-за "
        "перераспределения движения (отрицательное значение = больше KSI).",
        "kk": "Өзгеріс қай жерде болады: бағдарлама өзгерткен көшелерде және басқа жерлерде, мысалы, көлік "
        "ағыны басқа жолдарға ауысқанда (теріс мән = KSI көбейеді).",
    },
    "where_touched": {
        "en": "on the streets changed",
        "ru": "на изменённых улицах",
        "kk": "өзгертілген көшелерде",
    },
    "where_elsewhere": {"en": "elsewhere", "ru": "в остальной сети", "kk": "басқа жерлерде"},
    "where_total": {"en": "total", "ru": "всего", "kk": "барлығы"},
    "economics": {
        "en": "Economic values used",
        "ru": "Использованные экономические показатели",
        "kk": "Пайдаланылған экономикалық көрсеткіштер",
    },
    "pedestrian": {"en": "pedestrians", "ru": "пешеходы", "kk": "жаяу жүргіншілер"},
    "occupant": {
        "en": "vehicle occupants",
        "ru": "водители и пассажиры",
        "kk": "жүргізушілер мен жолаушылар",
    },
    "col_deaths": {"en": "deaths/yr", "ru": "погибшие/год", "kk": "қаза/жыл"},
    "col_serious": {"en": "serious/yr", "ru": "тяжёлые/год", "kk": "ауыр/жыл"},
    "col_ksi": {"en": "KSI/yr", "ru": "KSI/год", "kk": "KSI/жыл"},
    "col_ksi_avoided": {"en": "KSI avoided/yr", "ru": "KSI предотвр./год", "kk": "алдын алынған KSI/жыл"},
    "col_ksi_change": {"en": "KSI change %", "ru": "изменение KSI %", "kk": "KSI өзгерісі %"},
    "col_prob": {"en": "P(fewer KSI)", "ru": "P(меньше KSI)", "kk": "P(KSI азаяды)"},
    "col_veh_h": {"en": "veh-h/yr added", "ru": "доп. авт.-ч/год", "kk": "қосымша көлік-сағ/жыл"},
    "col_trips": {
        "en": "car trips −evaporated/+added",
        "ru": "поездки −исчезли/+добавились",
        "kk": "сапарлар −жоғалған/+қосылған",
    },
    "col_cost": {"en": "cost PV {cur}", "ru": "затраты (PV) {cur}", "kk": "шығын (PV) {cur}"},
    "col_npv": {"en": "NPV {cur}", "ru": "ЧПС {cur}", "kk": "ТКҚ {cur}"},
    "col_bcr": {"en": "BCR", "ru": "ОВЗ", "kk": "ПШҚ"},
    "col_benefit_pv": {
        "en": "safety benefit PV",
        "ru": "выгода безопасности (PV)",
        "kk": "қауіпсіздік пайдасы (PV)",
    },
    "col_tt_pv": {
        "en": "travel-time cost PV",
        "ru": "стоимость времени в пути (PV)",
        "kk": "жол уақытының құны (PV)",
    },
    "col_cost_pv": {"en": "intervention cost PV", "ru": "затраты на меры (PV)", "kk": "шаралар шығыны (PV)"},
    "money": {
        "en": "Money (present values over the horizon)",
        "ru": "Деньги (приведённая стоимость за период оценки)",
        "kk": "Ақша (бағалау кезеңіндегі келтірілген құн)",
    },
    "intervention_costs": {
        "en": "Intervention costs — {name}",
        "ru": "Затраты на меры — {name}",
        "kk": "Шаралар шығыны — {name}",
    },
    "econ_value": {"en": "value", "ru": "показатель", "kk": "көрсеткіш"},
    "econ_used": {"en": "used", "ru": "значение", "kk": "мәні"},
    "econ_source": {"en": "source", "ru": "источник", "kk": "дереккөз"},
    "econ_vsl": {
        "en": "value of a statistical life (VSL)",
        "ru": "стоимость статистической жизни (VSL)",
        "kk": "статистикалық өмір құны (VSL)",
    },
    "econ_serious": {"en": "serious injury", "ru": "тяжёлая травма", "kk": "ауыр жарақат"},
    "econ_slight": {"en": "slight injury", "ru": "лёгкая травма", "kk": "жеңіл жарақат"},
    "econ_vot": {"en": "value of time", "ru": "стоимость времени", "kk": "уақыт құны"},
    "econ_rate": {"en": "discount rate", "ru": "ставка дисконтирования", "kk": "дисконттау мөлшерлемесі"},
    "econ_horizon": {"en": "horizon", "ru": "период оценки", "kk": "бағалау кезеңі"},
    "years": {"en": "{n} years", "ru": "{n} лет", "kk": "{n} жыл"},
    "generated": {
        "en": "Generated by vision_zero {version}; network: {network}.",
        "ru": "Создано vision_zero {version}; сеть: {network}.",
        "kk": "vision_zero {version} жасаған; желі: {network}.",
    },
}


def check_lang(lang: str) -> str:
    """Return ``lang`` if supported, else raise :class:`~vision_zero.core.errors.ConfigError` listing the options."""
    if lang not in LANGUAGES:
        raise ConfigError(f"--lang: expected one of {list(LANGUAGES)} (got {lang!r})")
    return lang


def text(key: str, lang: str = "en", **fields: object) -> str:
    """The phrase ``key`` in ``lang`` (English if missing), with ``fields`` filled in."""
    entry = _T[key]
    phrase = entry.get(check_lang(lang)) or entry["en"]
    return phrase.format(**fields) if fields else phrase
