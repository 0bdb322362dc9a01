//! Japanese names with their full-width katakana readings. A few use rare characters on purpose:
//! 髙 and 齋 (異体字 in the BMP) and 𠮷 (U+20BB7, outside the BMP).

/// (kanji, katakana reading)
pub(crate) type Name = (&'static str, &'static str);

pub(crate) const FAMILY: &[Name] = &[
    ("佐藤", "サトウ"),
    ("鈴木", "スズキ"),
    ("高橋", "タカハシ"),
    ("田中", "タナカ"),
    ("伊藤", "イトウ"),
    ("渡辺", "ワタナベ"),
    ("山本", "ヤマモト"),
    ("中村", "ナカムラ"),
    ("小林", "コバヤシ"),
    ("加藤", "カトウ"),
    ("吉田", "ヨシダ"),
    ("山田", "ヤマダ"),
    ("佐々木", "ササキ"),
    ("山口", "ヤマグチ"),
    ("松本", "マツモト"),
    ("井上", "イノウエ"),
    ("木村", "キムラ"),
    ("林", "ハヤシ"),
    ("斎藤", "サイトウ"),
    ("清水", "シミズ"),
    ("山崎", "ヤマザキ"),
    ("森", "モリ"),
    ("池田", "イケダ"),
    ("橋本", "ハシモト"),
    ("阿部", "アベ"),
    ("石川", "イシカワ"),
    ("山下", "ヤマシタ"),
    ("中島", "ナカジマ"),
    ("石井", "イシイ"),
    ("小川", "オガワ"),
    ("前田", "マエダ"),
    ("岡田", "オカダ"),
    ("長谷川", "ハセガワ"),
    ("藤田", "フジタ"),
    ("後藤", "ゴトウ"),
    ("近藤", "コンドウ"),
    ("村上", "ムラカミ"),
    ("遠藤", "エンドウ"),
    ("青木", "アオキ"),
    ("坂本", "サカモト"),
    ("斉藤", "サイトウ"),
    ("福田", "フクダ"),
    ("太田", "オオタ"),
    ("西村", "ニシムラ"),
    ("藤井", "フジイ"),
    ("金子", "カネコ"),
    ("岡本", "オカモト"),
    ("藤原", "フジワラ"),
    ("中野", "ナカノ"),
    ("三浦", "ミウラ"),
    ("髙橋", "タカハシ"),
    ("齋藤", "サイトウ"),
    ("𠮷田", "ヨシダ"),
    ("渡邊", "ワタナベ"),
];

pub(crate) const BOYS: &[Name] = &[
    ("蓮", "レン"),
    ("陽翔", "ハルト"),
    ("湊", "ミナト"),
    ("蒼", "アオイ"),
    ("樹", "イツキ"),
    ("大和", "ヤマト"),
    ("悠真", "ユウマ"),
    ("朝陽", "アサヒ"),
    ("碧", "アオイ"),
    ("律", "リツ"),
    ("颯真", "ソウマ"),
    ("陽太", "ヒナタ"),
    ("悠人", "ユウト"),
    ("大翔", "ヒロト"),
    ("翔太", "ショウタ"),
    ("拓海", "タクミ"),
    ("健太", "ケンタ"),
    ("陸", "リク"),
    ("奏太", "ソウタ"),
    ("結翔", "ユイト"),
    ("新", "アラタ"),
    ("颯", "ハヤテ"),
    ("蒼空", "ソラ"),
    ("瑛太", "エイタ"),
    ("𠮷人", "ヨシト"),
];

pub(crate) const GIRLS: &[Name] = &[
    ("陽葵", "ヒマリ"),
    ("凛", "リン"),
    ("詩", "ウタ"),
    ("結菜", "ユイナ"),
    ("芽依", "メイ"),
    ("紬", "ツムギ"),
    ("葵", "アオイ"),
    ("澪", "ミオ"),
    ("結愛", "ユア"),
    ("杏", "アン"),
    ("莉子", "リコ"),
    ("美咲", "ミサキ"),
    ("陽菜", "ヒナ"),
    ("心春", "コハル"),
    ("咲良", "サクラ"),
    ("結衣", "ユイ"),
    ("花", "ハナ"),
    ("琴音", "コトネ"),
    ("楓", "カエデ"),
    ("柚葉", "ユズハ"),
    ("愛莉", "アイリ"),
    ("彩葉", "イロハ"),
    ("美月", "ミツキ"),
    ("千尋", "チヒロ"),
    ("𠮷乃", "ヨシノ"),
];

pub(crate) const MEN: &[Name] = &[
    ("健一", "ケンイチ"),
    ("誠", "マコト"),
    ("浩二", "コウジ"),
    ("大輔", "ダイスケ"),
    ("直樹", "ナオキ"),
    ("和也", "カズヤ"),
    ("拓也", "タクヤ"),
    ("隆", "タカシ"),
    ("修", "オサム"),
    ("剛", "ツヨシ"),
    ("哲也", "テツヤ"),
    ("雅之", "マサユキ"),
];

pub(crate) const WOMEN: &[Name] = &[
    ("裕子", "ユウコ"),
    ("恵子", "ケイコ"),
    ("美穂", "ミホ"),
    ("智子", "トモコ"),
    ("直美", "ナオミ"),
    ("由美", "ユミ"),
    ("真由美", "マユミ"),
    ("久美子", "クミコ"),
    ("明美", "アケミ"),
    ("彩", "アヤ"),
    ("綾香", "アヤカ"),
    ("麻衣", "マイ"),
];

/// A person's name chosen from 64 random bits: (family, given, is_female).
pub(crate) fn pick(bits: u64, adult: bool) -> (Name, Name, bool) {
    let female = bits & 1 == 1;
    let family = FAMILY[((bits >> 8) % FAMILY.len() as u64) as usize];
    let list = match (adult, female) {
        (false, false) => BOYS,
        (false, true) => GIRLS,
        (true, false) => MEN,
        (true, true) => WOMEN,
    };
    let given = list[((bits >> 24) % list.len() as u64) as usize];
    (family, given, female)
}

/// The family name after `family` in the list: a name change that always changes the name.
pub(crate) fn another_family(family: Name) -> Name {
    let at = FAMILY.iter().position(|f| *f == family).unwrap_or(0);
    FAMILY[(at + 1) % FAMILY.len()]
}

/// A number in kanji numerals (一, 十二, 三百五, 千二十), as in 第十二小学校.
pub(crate) fn kanji_number(mut n: u64) -> String {
    const DIGITS: [&str; 10] = ["〇", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
    if n == 0 {
        return DIGITS[0].to_owned();
    }
    let mut out = String::new();
    let man = n / 10_000;
    if man > 0 {
        out.push_str(&kanji_number(man));
        out.push('万');
        n %= 10_000;
    }
    for (unit, mark) in [(1000, "千"), (100, "百"), (10, "十")] {
        let d = n / unit;
        if d > 0 {
            if d > 1 {
                out.push_str(DIGITS[d as usize]);
            }
            out.push_str(mark);
        }
        n %= unit;
    }
    if n > 0 {
        out.push_str(DIGITS[n as usize]);
    }
    out
}
