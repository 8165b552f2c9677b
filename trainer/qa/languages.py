"""Language codes a QA or parallel file may use: ISO 639-1 and common BCP-47 tags."""

from __future__ import annotations

#: ISO 639-1 two-letter language codes.
ISO_639_1 = frozenset("""
aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy
da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu
hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb
lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om
or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw
ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu
""".split())

#: Common BCP-47 tags (language-Script, language-REGION) accepted besides the bare codes.
COMMON_BCP47 = frozenset("""
zh-Hans zh-Hant zh-CN zh-TW zh-HK zh-SG zh-MO zh-Hans-CN zh-Hant-TW zh-Hant-HK
pt-BR pt-PT pt-AO pt-MZ en-US en-GB en-AU en-CA en-IN en-IE en-NZ en-ZA
es-ES es-MX es-AR es-CO es-CL es-US es-419 fr-FR fr-CA fr-BE fr-CH de-DE de-AT de-CH
it-IT it-CH nl-NL nl-BE sv-SE sv-FI ar-SA ar-EG ar-AE ar-MA ko-KR ja-JP ru-RU uk-UA
hi-IN bn-BD bn-IN ta-IN ta-LK ur-PK ur-IN ms-MY id-ID th-TH vi-VN tr-TR el-GR he-IL
fa-IR fa-AF pl-PL cs-CZ ro-RO ro-MD hu-HU fi-FI da-DK nb-NO nn-NO ca-ES eu-ES gl-ES
sr-Latn sr-Cyrl bs-Latn bs-Cyrl uz-Latn uz-Cyrl az-Latn az-Cyrl pa-Guru pa-Arab
mn-Cyrl mn-Mong ha-Latn sw-KE sw-TZ
""".split())

#: Every accepted code, looked up case-insensitively -> its canonical spelling.
LANGUAGE_CODES = {c.lower(): c for c in ISO_639_1 | COMMON_BCP47}

#: Frequent mistakes (ISO 639-2/3 codes, English names) -> the code to suggest.
_SUGGEST = {
    "eng": "en", "english": "en", "deu": "de", "ger": "de", "german": "de", "fra": "fr",
    "fre": "fr", "french": "fr", "spa": "es", "spanish": "es", "zho": "zh", "chi": "zh",
    "cmn": "zh", "chinese": "zh", "jpn": "ja", "japanese": "ja", "rus": "ru", "russian": "ru",
    "ara": "ar", "arabic": "ar", "hin": "hi", "hindi": "hi", "por": "pt", "portuguese": "pt",
    "ita": "it", "italian": "it", "kor": "ko", "korean": "ko", "tur": "tr", "turkish": "tr",
    "vie": "vi", "vietnamese": "vi", "tha": "th", "thai": "th", "ell": "el", "gre": "el",
    "greek": "el", "nld": "nl", "dut": "nl", "dutch": "nl", "pol": "pl", "polish": "pl",
    "swe": "sv", "ukr": "uk", "heb": "he", "iw": "he", "in": "id", "ji": "yi", "jw": "jv",
}


def normalize_language(code: str) -> str | None:
    """A language code as written -> its canonical spelling, or None when not accepted."""
    return LANGUAGE_CODES.get(code.strip().lower())


def unknown_language(code: str) -> str:
    """The message for a code that is not accepted, with a suggestion where one is likely."""
    msg = f'unknown language code "{code}"'
    low = code.strip().lower()
    hint = _SUGGEST.get(low) or normalize_language(low.replace("_", "-"))
    if hint:
        return msg + f' (did you mean "{hint}"?)'
    return msg + " (use an ISO 639-1 code like \"en\" or a BCP-47 tag like \"pt-BR\")"

#: ISO 639-3 codes that file names of public parallel sets use (FLORES ``arb_Arab``, NTREX
#: ``eng-US``), beyond the ISO 639-2 ones in the suggestions.
_ISO_639_3 = {"arb": "ar", "cmn": "zh", "pes": "fa", "zsm": "ms", "npi": "ne", "ory": "or", "swh": "sw",
              "khk": "mn", "uzn": "uz", "azj": "az", "lvs": "lv", "ekk": "et", "plt": "mg", "als": "sq",
              "ind": "id", "fin": "fi", "ces": "cs", "nob": "nb", "ukr": "uk", "heb": "he", "fas": "fa"}


def language_of_name(name: str) -> str | None:
    """The language a file name or TMX ``xml:lang`` stands for, as a plain ISO 639-1 code
    (``deu_Latn`` -> de, ``eng-US`` -> en, ``zho-CN`` -> zh, ``pt-BR`` -> pt), else None.

    Parallel sets name files by ISO 639-3 code plus script or region; training pairs them with
    QA data written with two-letter codes, so the script/region is dropped for those.
    """
    base = name.replace("_", "-").split("-")[0].strip().lower()
    return (normalize_language(base) or _SUGGEST.get(base) or _ISO_639_3.get(base)
            or normalize_language(name))
