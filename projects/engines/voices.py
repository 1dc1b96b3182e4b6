"""The Kling text-to-speech voices (contract §7): ids, names and who they sound like.

Kling publishes no list endpoint, so this catalogue is the contract's list. Gender and age
group are read from the names (少年 a young male, 少女 a young female, 奶奶 an elder female,
男童 a boy, ...); for the English-only names they follow the name and the id (`uk_boy1`,
`oversea_male1`). Every id is accepted with either `voice_language`; `languages` lists the
voice's own language first. Plain Python, no Django: the UI's voice picker and the local
engine's text-to-speech both read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Gender = Literal["male", "female"]
AgeGroup = Literal["child", "young", "adult", "elder"]
Language = Literal["zh", "en"]

BOTH_ZH_FIRST: tuple[Language, ...] = ("zh", "en")
BOTH_EN_FIRST: tuple[Language, ...] = ("en", "zh")


class UnknownVoiceError(ValueError):
    """A voice id that is not in the catalogue."""


@dataclass(frozen=True)
class Voice:
    voice_id: str
    english_name: str  # "" when Kling gives only a Chinese name
    chinese_name: str  # "" when Kling gives only an English name
    gender: Gender
    age_group: AgeGroup
    languages: tuple[Language, ...]

    @property
    def label(self) -> str:
        """What a picker shows: both names when there are two, else the one there is."""
        if self.english_name and self.chinese_name:
            return f"{self.english_name} · {self.chinese_name}"
        return self.english_name or self.chinese_name

    @property
    def short_name(self) -> str:
        """One name, for a sentence: the English one when there is one."""
        return self.english_name or self.chinese_name

    @property
    def native_language(self) -> Language:
        return self.languages[0]

    @property
    def own_languages(self) -> tuple[Language, ...]:
        """The languages Kling names this voice in, its own first. Some copies of the reference
        say a voice answers "voice id not found" in another language, so Kling's speech is
        only asked for in these (the offline voice speaks both)."""
        named = {"zh": bool(self.chinese_name), "en": bool(self.english_name)}
        return tuple(language for language in self.languages if named[language])


def _zh(voice_id: str, english: str, chinese: str, gender: Gender, age: AgeGroup) -> Voice:
    return Voice(voice_id, english, chinese, gender, age, BOTH_ZH_FIRST)


def _en(voice_id: str, english: str, gender: Gender, age: AgeGroup) -> Voice:
    return Voice(voice_id, english, "", gender, age, BOTH_EN_FIRST)


# In the contract's order, which is also the order Kling's own picker shows them in.
VOICES: tuple[Voice, ...] = (
    _zh("genshin_vindi2", "Sunny", "阳光少年", "male", "young"),
    _zh("zhinen_xuesheng", "Sage", "懂事小弟", "male", "young"),
    _en("AOT", "Ace", "male", "young"),
    _zh("ai_shatang", "Blossom", "青春少女", "female", "young"),
    _zh("genshin_klee2", "Peppy", "温柔小妹", "female", "child"),
    _zh("genshin_kirara", "Dove", "元气少女", "female", "young"),
    _zh("ai_kaiya", "Shine", "阳光男生", "male", "young"),
    _en("oversea_male1", "Anchor", "male", "adult"),
    _zh("ai_chenjiahao_712", "Lyric", "文艺小哥", "male", "young"),
    _en("girlfriend_4_speech02", "Melody", "female", "young"),
    _zh("chat1_female_new-3", "Tender", "温柔姐姐", "female", "adult"),
    _en("chat_0407_5-1", "Siren", "female", "adult"),
    _zh("cartoon-boy-07", "Zippy", "活泼男童", "male", "child"),
    _en("uk_boy1", "Bud", "male", "child"),
    _zh("cartoon-girl-01", "Sprite", "俏皮女童", "female", "child"),
    _en("PeppaPig_platform", "Candy", "female", "child"),
    _en("ai_huangzhong_712", "Beacon", "male", "elder"),
    _zh("ai_huangyaoshi_712", "Rock", "稳重老爸", "male", "adult"),
    _zh("ai_laoguowang_712", "Titan", "严肃上司", "male", "adult"),
    _zh("chengshu_jiejie", "Grace", "优雅贵妇", "female", "adult"),
    _zh("you_pingjing", "Helen", "温柔妈妈", "female", "adult"),
    _en("calm_story1", "Lore", "male", "adult"),
    _en("uk_man2", "Crag", "male", "adult"),
    _zh("laopopo_speech02", "Prattle", "唠叨奶奶", "female", "elder"),
    _zh("heainainai_speech02", "Hearth", "和蔼奶奶", "female", "elder"),
    _en("reader_en_m-v1", "The Reader", "male", "adult"),
    _en("commercial_lady_en_f-v1", "Commercial Lady", "female", "adult"),
    _zh("tiyuxi_xuedi", "", "运动少年", "male", "young"),
    _zh("tiexin_nanyou", "", "幽默小哥", "male", "young"),
    _zh("girlfriend_1_speech02", "", "甜美邻家", "female", "young"),
    _zh("girlfriend_2_speech02", "", "职场女青", "female", "young"),
    _zh("zhuxi_speech02", "", "慈祥爷爷", "male", "elder"),
    _zh("uk_oldman3", "", "唠叨爷爷", "male", "elder"),
    _zh("dongbeilaotie_speech02", "", "东北老铁", "male", "adult"),
    _zh("chongqingxiaohuo_speech02", "", "重庆小伙", "male", "young"),
    _zh("chuanmeizi_speech02", "", "四川妹子", "female", "young"),
    _zh("chaoshandashu_speech02", "", "潮汕大叔", "male", "adult"),
    _zh("ai_taiwan_man2_speech02", "", "台湾男生", "male", "young"),
    _zh("xianzhanggui_speech02", "", "西安掌柜", "male", "adult"),
    _zh("tianjinjiejie_speech02", "", "天津姐姐", "female", "adult"),
    _zh("diyinnansang_DB_CN_M_04-v2", "", "新闻播报男", "male", "adult"),
    _zh("yizhipiannan-v1", "", "译制片男", "male", "adult"),
    _zh("guanxiaofang-v2", "", "元气少女", "female", "young"),
    _zh("tianmeixuemei-v1", "", "撒娇女友", "female", "young"),
    # 刀片烟嗓 ("razor-edged smoky voice") names no gender: male is a guess.
    _zh("daopianyansang-v1", "", "刀片烟嗓", "male", "adult"),
    _zh("mengwa-v1", "", "乖巧正太", "male", "child"),
)

_BY_ID: dict[str, Voice] = {voice.voice_id: voice for voice in VOICES}


def get_voice(voice_id: str) -> Voice:
    """The catalogue entry for `voice_id`, or UnknownVoiceError with a message a person can read."""
    try:
        return _BY_ID[voice_id]
    except KeyError:
        raise UnknownVoiceError(
            f"Unknown voice {voice_id!r}: choose one of the {len(VOICES)} voices in the list."
        ) from None


def voices_for(language: Language) -> list[Voice]:
    """All voices, those whose own language is `language` first (every voice speaks both)."""
    return sorted(VOICES, key=lambda voice: voice.native_language != language)
